package gateway

import (
	"context"
	"net/http"
	"sync"

	"crypto/tls"
	"crypto/x509"
	"github.com/coder/websocket"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/certs/certstest"
	"github.com/fastgate/gateway/internal/logtest"
)

// startTLSUpstream serves h over TLS on loopback with a certificate for
// 127.0.0.1 from ca, requiring client certificates from clientCAs when
// set, and returns "https://host:port".
func startTLSUpstream(t testing.TB, ca *certstest.CA, clientCAs *x509.CertPool, h fasthttp.RequestHandler) string {
	t.Helper()
	leaf := ca.Issue(t, certstest.LeafOptions{Names: []string{"127.0.0.1"}})
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if clientCAs != nil {
		cfg.ClientCAs, cfg.ClientAuth = clientCAs, tls.RequireAndVerifyClientCert
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{Handler: h, MaxIdleWorkerDuration: 20 * time.Millisecond,
		Logger: log.New(io.Discard, "", 0)} // refused handshakes are the point
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() { _ = s.Shutdown(); <-done })
	return "https://" + ln.Addr().String()
}

// TestUpstreamTLS: https:// targets verified with a CA file, with a client
// certificate for an upstream that requires one.
func TestUpstreamTLS(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "upstream CA")
	ca.WriteCA(t, dir, "upstream-ca.pem")
	clientCA := certstest.NewCA(t, "client CA")
	clientCA.Issue(t, certstest.LeafOptions{Names: []string{"gateway"}, Client: true}).Write(t, dir, "client")
	echo := func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("over tls") }
	up := startTLSUpstream(t, ca, nil, echo)
	mutual := startTLSUpstream(t, ca, clientCA.Pool(), echo)
	g := startGatewayFile(t, dir, `listen: "127.0.0.1:0"
admin: "off"
routes:
  - name: https
    match: { path: /https }
    upstream: { targets: ["{UP1}"], tls: { ca_file: upstream-ca.pem } }
  - name: mtls
    match: { path: /mtls }
    upstream: { targets: ["{UP2}"], tls: { ca_file: upstream-ca.pem, cert_file: client.crt, key_file: client.key } }
  - name: mtls-without-cert
    match: { path: /nocert }
    upstream: { targets: ["{UP2}"], tls: { ca_file: upstream-ca.pem }, retries: 0 }
`, Options{}, up, mutual)
	for _, path := range []string{"/https", "/mtls", "/https"} {
		if resp := g.do(t, "GET", path, nil, ""); resp.StatusCode() != 200 || string(resp.Body()) != "over tls" {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode(), resp.Body())
		}
	}
	if resp := g.do(t, "GET", "/nocert", nil, ""); resp.StatusCode() != 502 {
		t.Errorf("GET /nocert without the client certificate the upstream requires: %d, want 502", resp.StatusCode())
	}
}

// TestUpstreamTLSVerificationFailure: an upstream whose certificate does
// not verify gets the client a 502, one log line naming the target and
// the reason, and counts against the breaker.
func TestUpstreamTLSVerificationFailure(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "upstream CA")
	other := certstest.NewCA(t, "another CA")
	other.WriteCA(t, dir, "wrong-ca.pem")
	up := startTLSUpstream(t, ca, nil, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("unreachable") })
	var logs logtest.Buffer
	g := startGatewayFile(t, dir, `listen: "127.0.0.1:0"
admin: "off"
routes:
  - name: bad-ca
    match: { path: /bad }
    upstream: { targets: ["{UP1}"], tls: { ca_file: wrong-ca.pem }, retries: 0 }
    circuit_breaker: { failure_ratio: 0.5, min_requests: 3, open_for: 1m }
`, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, up)
	for i := range 3 {
		if resp := g.do(t, "GET", "/bad", nil, ""); resp.StatusCode() != 502 {
			t.Fatalf("request %d: %d %s, want 502", i, resp.StatusCode(), resp.Body())
		}
	}
	if resp := g.do(t, "GET", "/bad", nil, ""); resp.StatusCode() != 503 {
		t.Errorf("after 3 verification failures: %d, want 503 from the open breaker", resp.StatusCode())
	}
	lines := logs.Lines(t, "gateway: upstream request failed")
	if len(lines) != 1 {
		t.Fatalf("%d log lines about the failures, want 1 (rate-limited):\n%s", len(lines), logs.String())
	}
	target := strings.TrimPrefix(up, "https://")
	if l := lines[0]; l["target"] != target || l["reason"] != "tls: certificate signed by unknown authority" {
		t.Errorf("log line %v, want target %s and the verification reason", l, target)
	}
}

// TestUpstreamTLSWebSocket: a WebSocket route to an https:// upstream
// tunnels over TLS.
func TestUpstreamTLSWebSocket(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "upstream CA")
	ca.WriteCA(t, dir, "upstream-ca.pem")
	leaf := ca.Issue(t, certstest.LeafOptions{Names: []string{"127.0.0.1"}})
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		_ = echo(ctx, c)
		_ = c.CloseNow()
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})) }()
	t.Cleanup(func() { cancel(); _ = srv.Close(); wg.Wait() })
	g := startGatewayFile(t, dir, `listen: "127.0.0.1:0"
admin: "off"
routes:
  - name: ws
    match: { path_prefix: /ws }
    upstream: { targets: ["{UP1}"], tls: { ca_file: upstream-ca.pem } }
`, Options{}, "https://"+ln.Addr().String())
	c := mustDialWS(t, g)
	roundTrip(t, c, websocket.MessageText, []byte("over a TLS tunnel"))
}
