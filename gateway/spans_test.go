package gateway

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// spanSink is an OTLP/HTTP trace receiver on loopback, as a collector.
type spanSink struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
}

func newSpanSink(t *testing.T) *spanSink {
	s := &spanSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		var msg coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(raw, &msg)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		for _, rs := range msg.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				s.spans = append(s.spans, ss.GetSpans()...)
			}
		}
		s.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// trace waits until the spans of trace id, by name, include every one of
// names, and returns them.
func (s *spanSink) trace(t *testing.T, id string, names ...string) map[string]*tracepb.Span {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := make(map[string]*tracepb.Span)
		s.mu.Lock()
		for _, sp := range s.spans {
			if hex.EncodeToString(sp.GetTraceId()) == id {
				got[sp.GetName()] = sp
			}
		}
		s.mu.Unlock()
		missing := false
		for _, n := range names {
			if got[n] == nil {
				missing = true
			}
		}
		if !missing {
			return got
		}
		if time.Now().After(deadline) {
			have := make([]string, 0, len(got))
			for n := range got {
				have = append(have, n)
			}
			t.Fatalf("trace %s: spans %q, want at least %q", id, have, names)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func spanAttr(sp *tracepb.Span, key string) string {
	for _, a := range sp.GetAttributes() {
		if a.GetKey() == key {
			return a.GetValue().GetStringValue()
		}
	}
	return ""
}

// TestSpansOfGatewayWork: with export on, a sampled request records a
// span for each step of the gateway's work under its own span (route
// match, rate limit, circuit breaker, upstream call, and the fallback
// when one answers), in the client's trace.
func TestSpansOfGatewayWork(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20") // export every 20ms, not 5s
	sink := newSpanSink(t)
	var up flakyUpstream // garbage instead of HTTP while down
	upAddr := up.start(t)
	gw := startGateway(t, strings.ReplaceAll(`
tracing: { endpoint: "{OTLP}", insecure: true, ratio: 0 }
routes:
  - name: guarded
    match: { path_prefix: / }
    rate_limit: { rate: 1000, burst: 1000, per: client_ip }
    circuit_breaker: { consecutive_failures: 5, open_for: 1m }
    fallback: { cache: { max_stale: 1m } }
    upstream: { targets: ["{UP1}"] }
`, "{OTLP}", strings.TrimPrefix(sink.srv.URL, "http://")), upAddr)

	const good, failed = "4bf92f3577b34da6a3ce929d0e0e4736", "5bf92f3577b34da6a3ce929d0e0e4737"
	sampled := func(trace string) map[string]string {
		return map[string]string{"traceparent": "00-" + trace + "-00f067aa0ba902b7-01"}
	}
	if resp := gw.do(t, "GET", "/x", sampled(good), ""); resp.StatusCode() != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode())
	}
	upName := "upstream " + strings.TrimPrefix(upAddr, "http://")
	spans := sink.trace(t, good, "gateway request", "route match", "rate limit", "circuit breaker", upName)
	root := spans["gateway request"]
	if got := hex.EncodeToString(root.GetParentSpanId()); got != "00f067aa0ba902b7" {
		t.Errorf("request span's parent %s, want the client's span 00f067aa0ba902b7", got)
	}
	for _, name := range []string{"route match", "rate limit", "circuit breaker", upName} {
		if sp := spans[name]; string(sp.GetParentSpanId()) != string(root.GetSpanId()) {
			t.Errorf("span %q is not a child of the request's span", name)
		}
	}
	for name, want := range map[string][2]string{
		"route match":     {"gateway.route", "guarded"},
		"rate limit":      {"gateway.rate_limit.outcome", "allowed"},
		"circuit breaker": {"gateway.breaker.outcome", "admitted"},
	} {
		if got := spanAttr(spans[name], want[0]); got != want[1] {
			t.Errorf("span %q: %s = %q, want %q", name, want[0], got, want[1])
		}
	}

	good200 := gw.do(t, "GET", "/x", nil, "")
	up.down.Store(true)
	resp := gw.do(t, "GET", "/x", sampled(failed), "")
	if resp.StatusCode() != 200 || string(resp.Body()) != string(good200.Body()) {
		t.Fatalf("failing upstream: status %d body %q, want the cached copy", resp.StatusCode(), resp.Body())
	}
	spans = sink.trace(t, failed, "gateway request", "fallback", upName)
	if got := spanAttr(spans["fallback"], "gateway.fallback"); got != "cache" {
		t.Errorf("fallback span: gateway.fallback = %q, want cache", got)
	}
	for _, name := range []string{upName, "circuit breaker"} {
		if code := spans[name].GetStatus().GetCode(); code != tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("span %q of the failed call has status %v, want an error", name, code)
		}
	}
}
