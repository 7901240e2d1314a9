package config

import (
	"strconv"
	"strings"
	"time"
)

// AccessLog configures the access log: one line per request, written off
// the request path through a bounded buffer.
type AccessLog struct {
	// Output is "stdout", "stderr" or a file path (appended to, created
	// with mode 0644). Default "stdout".
	Output string `yaml:"output"`
	// Format is "json" (default) or "common" (NCSA common log format with
	// the request id and duration appended).
	Format string `yaml:"format"`
	// Buffer is how many lines wait for the writer at most; when it is
	// full lines are dropped and counted in
	// gateway_access_log_dropped_total, never waited for. Default 4096.
	Buffer int `yaml:"buffer" range:"1,1000000"`
	// Query logs the query string too. Default false: the path only.
	Query bool `yaml:"query"`
	// Headers lists request headers logged with each line. Authorization,
	// Proxy-Authorization, Cookie and Set-Cookie are refused here.
	// Default: none.
	Headers []string `yaml:"headers"`
}

// RouteAccessLog is a route's share of the access log.
type RouteAccessLog struct {
	// Sample is the share (0..1) of the route's requests logged. Default 1.
	Sample *float64 `yaml:"sample" range:"0,1"`
	// Off silences the route. Default false.
	Off bool `yaml:"off"`
}

// Tracing exports the gateway's spans over OTLP/HTTP.
type Tracing struct {
	// Endpoint is the collector's OTLP/HTTP "host:port" (spans go to
	// /v1/traces). Required.
	Endpoint string `yaml:"endpoint" redact:"url"`
	// Insecure sends plain HTTP instead of HTTPS. Default false.
	Insecure bool `yaml:"insecure"`
	// Ratio is the share (0..1) of new traces recorded; a request whose
	// traceparent is sampled is always recorded, one whose traceparent is
	// not never is. Default 0.01.
	Ratio *float64 `yaml:"ratio" range:"0,1"`
	// ServiceName is the service.name of the spans. Default "gateway".
	ServiceName string `yaml:"service_name"`
	// Timeout bounds one export. Default 10s.
	Timeout time.Duration `yaml:"timeout" range:"1ms,1m"`
}

// Access log formats.
const (
	LogFormatJSON   = "json"
	LogFormatCommon = "common"
)

const (
	defaultAccessLogOutput = "stdout"
	defaultAccessLogBuffer = 4096
	defaultTraceRatio      = 0.01
	defaultServiceName     = "gateway"
	defaultTraceTimeout    = 10 * time.Second
)

func accessLogDefaults(a *AccessLog) {
	zeroDefault(&a.Output, defaultAccessLogOutput)
	zeroDefault(&a.Format, LogFormatJSON)
	zeroDefault(&a.Buffer, defaultAccessLogBuffer)
}

func tracingDefaults(t *Tracing) {
	if t.Ratio == nil {
		r := defaultTraceRatio
		t.Ratio = &r
	}
	zeroDefault(&t.ServiceName, defaultServiceName)
	zeroDefault(&t.Timeout, defaultTraceTimeout)
}

func (v *validator) accessLog(a *AccessLog) {
	switch a.Format {
	case LogFormatJSON, LogFormatCommon:
	default:
		v.invalid("access_log.format", a.Format, "must be json or common")
	}
	for i, name := range a.Headers {
		p := "access_log.headers[" + strconv.Itoa(i) + "]"
		switch {
		case !isToken(name):
			v.errorf(p, "%q: not a valid header name", name)
		case sensitiveHeader(name):
			v.errorf(p, "%q: credentials are never logged", name)
		}
	}
}

func (v *validator) tracing(t *Tracing) {
	if msg := checkDialAddr(t.Endpoint); t.Endpoint == "" || msg != "" {
		v.errorf("tracing.endpoint", "want the collector's host:port (OTLP/HTTP)")
	}
}

// sensitiveHeader reports whether a header is a credential by its name,
// which the access log refuses to log.
func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	return strings.Contains(n, "token") || strings.Contains(n, "secret") || strings.Contains(n, "key")
}
