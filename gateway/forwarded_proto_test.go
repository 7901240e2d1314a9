package gateway

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
)

// serveTLS serves yaml on a TLS listener on loopback until the test ends
// and returns its address.
func serveTLS(t *testing.T, yaml string) string {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	gw, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	gw.server.MaxIdleWorkerDuration = 20 * time.Millisecond
	certPEM, keyPEM, err := fasthttp.GenerateTestCertificate("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gw.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}))
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

// TestForwardedProtoFromListener: X-Forwarded-Proto says how the client
// reached the gateway, "https" on a TLS connection and "http" on a plain
// one; a trusted proxy's own value is kept either way.
func TestForwardedProtoFromListener(t *testing.T) {
	up := startUpstream(t, echoHeaders)
	const routes = `
routes:
  - { name: r, match: { path_prefix: / }, upstream: { targets: ["{UP1}"] } }
`
	yaml := func(trusted bool) string {
		y := routes
		if trusted {
			y = "trusted_proxies: [127.0.0.0/8]\n" + y
		}
		return strings.ReplaceAll(y, "{UP1}", up)
	}
	tests := []struct {
		desc    string
		tls     bool
		trusted bool
		give    string // the client's X-Forwarded-Proto, if any
		want    string
	}{
		{desc: "plain", want: "http"},
		{desc: "plain, forged value replaced", give: "https", want: "http"},
		{desc: "TLS", tls: true, want: "https"},
		{desc: "TLS, forged value replaced", tls: true, give: "http", want: "https"},
		{desc: "TLS, trusted proxy's value kept", tls: true, trusted: true, give: "http", want: "http"},
		{desc: "TLS, trusted proxy without a value", tls: true, trusted: true, want: "https"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.give != "" {
				hdr["X-Forwarded-Proto"] = tt.give
			}
			var resp *fasthttp.Response
			if tt.tls {
				resp = tlsGet(t, serveTLS(t, yaml(tt.trusted)), hdr)
			} else {
				cfg, err := config.Parse([]byte(yaml(tt.trusted)), "test.yaml")
				if err != nil {
					t.Fatal(err)
				}
				resp = serveConfig(t, cfg).do(t, "GET", "/x", hdr, "")
			}
			if got := decodeEcho(t, resp).Headers["X-Forwarded-Proto"]; got != tt.want {
				t.Errorf("X-Forwarded-Proto = %q, want %q", got, tt.want)
			}
		})
	}
}

// tlsGet sends GET /x with hdr to the TLS listener at addr.
func tlsGet(t *testing.T, addr string, hdr map[string]string) *fasthttp.Response {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI("https://" + addr + "/x")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp := &fasthttp.Response{}
	c := &fasthttp.Client{
		MaxIdemponentCallAttempts: 1,
		ReadTimeout:               10 * time.Second,
		TLSConfig:                 &tls.Config{InsecureSkipVerify: true}, // the test's own certificate
	}
	if err := c.Do(req, resp); err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	return resp
}
