package config

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The proxy listener: listen, server and trusted_proxies.

// Server holds the limits and timeouts of the proxy listener.
type Server struct {
	// ReadTimeout bounds reading one request's headers and body from the
	// client. Default 60s. Zero means the default.
	ReadTimeout time.Duration `yaml:"read_timeout" range:"100ms,1h" reload:"restart"`
	// WriteTimeout bounds writing one response to the client; for an
	// answer streamed from an upstream (an event stream, a large
	// download), each piece of it instead, so that a stream that keeps
	// moving is never cut. Default 60s. Zero means the default.
	WriteTimeout time.Duration `yaml:"write_timeout" range:"100ms,1h" reload:"restart"`
	// IdleTimeout closes a keep-alive client connection idle for this
	// long. Default 60s. Zero means the default.
	IdleTimeout time.Duration `yaml:"idle_timeout" range:"100ms,1h" reload:"restart"`
	// DrainTimeout is how long a shutdown waits for in-flight requests
	// before exiting, counted after ShutdownDelay: past it the process
	// exits whatever is still running. Default 30s. Zero means the
	// default.
	DrainTimeout time.Duration `yaml:"drain_timeout" range:"100ms,1h"`
	// ShutdownDelay is how long a shutdown keeps serving after /readyz
	// turned 503, so that load balancers stop sending new requests before
	// the listener closes. Default 0: close at once.
	ShutdownDelay time.Duration `yaml:"shutdown_delay" range:"0s,10m"`
	// MaxHeaderBytes is the largest request head (request line plus
	// headers) accepted; larger ones get 431. Default 8KiB. Zero means the
	// default.
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes" range:"1KiB,64KiB" reload:"restart"`
	// MaxURILength is the longest request target (path and query, as the
	// client sent it) accepted, in bytes; longer ones get 414. The whole
	// head must still fit max_header_bytes (431 otherwise). Default 4KiB.
	// Zero means the default.
	MaxURILength ByteSize `yaml:"max_uri_length" range:"256B,64KiB"`
	// MaxHeaderCount is the most header lines a request may carry; more
	// get 431. Default 100. Zero means the default.
	MaxHeaderCount int `yaml:"max_header_count" range:"10,1000"`
	// MaxBodySize is the default request body limit of every route; larger
	// bodies get 413. Default 10MiB. Zero means the default.
	MaxBodySize ByteSize `yaml:"max_body_size" range:"1B,64GiB"`
	// MaxConnsPerIP limits concurrent client connections from one IP.
	// Default 0: no limit.
	MaxConnsPerIP int `yaml:"max_conns_per_ip" range:"0,1000000" reload:"restart"`
	// Concurrency limits client connections served at once (idle
	// keep-alive ones included); excess connections get 503. Default 0:
	// derived from the open-file limit (three quarters of it less 128,
	// 64 to 256Ki), so that clients cannot take the descriptors upstream
	// connections need.
	Concurrency int `yaml:"concurrency" range:"0,10000000" reload:"restart"`
}

// Defaults of the proxy listener, as the field comments state them.
const (
	defaultListen = ":8080"

	defaultServerTimeout  = 60 * time.Second
	defaultDrainTimeout   = 30 * time.Second
	defaultMaxHeaderBytes = 8 << 10
	defaultMaxURILength   = 4 << 10
	defaultMaxHeaderCount = 100
	defaultMaxBodySize    = 10 << 20
)

func listenerDefaults(c *Config) {
	if c.Listen == "" {
		c.Listen = defaultListen
	}
}

func serverDefaults(s *Server) {
	zeroDefault(&s.ReadTimeout, defaultServerTimeout)
	zeroDefault(&s.WriteTimeout, defaultServerTimeout)
	zeroDefault(&s.IdleTimeout, defaultServerTimeout)
	zeroDefault(&s.DrainTimeout, defaultDrainTimeout)
	zeroDefault(&s.MaxHeaderBytes, defaultMaxHeaderBytes)
	zeroDefault(&s.MaxURILength, defaultMaxURILength)
	zeroDefault(&s.MaxHeaderCount, defaultMaxHeaderCount)
	zeroDefault(&s.MaxBodySize, defaultMaxBodySize)
}

// listeners checks the proxy listener's address and trusted proxies.
func (v *validator) listeners(c *Config) {
	if c.Listen != "" {
		if msg := checkHostPort(c.Listen); msg != "" {
			v.invalid("listen", c.Listen, msg)
		}
	}
	for i, tp := range c.TrustedProxies {
		p := "trusted_proxies[" + strconv.Itoa(i) + "]"
		if msg, hint := checkTrustedProxy(tp); msg != "" {
			if hint != "" && !v.secrets[p] {
				msg += "; did you mean " + strconv.Quote(hint) + "?"
			}
			v.invalid(p, tp, msg)
		}
	}
}

// checkTrustedProxy accepts an IP address or a CIDR range without host
// bits. hint is the range that was probably meant.
func checkTrustedProxy(s string) (msg, hint string) {
	const want = "not an IP address or CIDR range"
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return want, ""
		}
		if pfx.Masked() != pfx {
			return "has bits set past the prefix length", pfx.Masked().String()
		}
		return "", ""
	}
	if _, err := netip.ParseAddr(s); err != nil {
		return want, ""
	}
	return "", ""
}

// sameListener reports whether two valid "host:port" listen addresses
// take the same port on a common interface: the same port, and the same
// host or either one all interfaces. Port 0 (any free port) never clashes.
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	na, errPA := strconv.Atoi(pa)
	nb, errPB := strconv.Atoi(pb)
	if errA != nil || errB != nil || errPA != nil || errPB != nil || na != nb || na == 0 {
		return false
	}
	all := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return strings.EqualFold(ha, hb) || all(ha) || all(hb)
}
