package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
	"github.com/fastgate/gateway/internal/pebbletest"
)

// pebbleMinica is the CA of Pebble's own HTTPS endpoints.
const pebbleMinica = "../../certs/acme/testdata/pebble.minica.pem"

// pebbleRoots returns the directory URL of the shared test Pebble and
// the roots it issues under.
func pebbleRoots(t *testing.T) (dir string, issuing *x509.CertPool) {
	t.Helper()
	return pebbletest.Shared(t, pebbleMinica)
}

// TestACMEThroughTheGateway: a configuration with tls.acme and no
// certificate file gets its certificate from Pebble through the gateway's
// own listeners, serves it, and exports its expiry.
func TestACMEThroughTheGateway(t *testing.T) {
	dir, issuing := pebbleRoots(t)
	domain := randomDomain("gw")
	g := startACMEGateway(t, freeAddr(t), dir, mustAbs(t, pebbleMinica), domain)
	g.waitServed(t, issuing, domain)
	if exp := g.edge.acme.Expiry(); len(exp) != 1 || !strings.EqualFold(exp[0].Names[0], domain) {
		t.Errorf("ACME expiry %+v, want one certificate for %s", exp, domain)
	}
}

// TestACMEHTTP01AnsweredByTheGateway: a Pebble that validates for real
// (internal/pebbletest) fetches the HTTP-01 answer from the gateway's
// plain listener, for a name its DNS resolves to loopback. TLS-ALPN-01
// cannot succeed (Pebble makes those handshakes on a port where nothing
// listens), so the certificate the gateway then serves over HTTPS was
// validated through the gateway's own HTTP-01 answer.
func TestACMEHTTP01AnsweredByTheGateway(t *testing.T) {
	plain := freeAddr(t)
	_, port, _ := net.SplitHostPort(plain)
	httpPort, _ := strconv.Atoi(port)
	p := pebbletest.Start(t, pebbletest.Options{HTTPPort: httpPort})
	domain := randomDomain("http01")
	g := startACMEGateway(t, plain, p.Directory, p.RootsFile, domain)
	g.waitServed(t, p.Issuing, domain)

	// The challenge went through the gateway's handler: answered before
	// routing, counted among the requests no route took.
	rec := httptest.NewRecorder()
	g.gw.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	answered := false
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "gateway_requests_total{") && strings.Contains(line, `route=""`) &&
			strings.Contains(line, `code="200"`) && strings.Contains(line, `method="GET"`) {
			answered = true
		}
	}
	if !answered {
		t.Errorf("no GET answered 200 outside the routes (the HTTP-01 challenge) in the metrics:\n%s", rec.Body.String())
	}
}

func randomDomain(prefix string) string {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	return prefix + "-" + hex.EncodeToString(suffix) + ".acme.test"
}

// acmeGateway is a gateway built from a configuration with tls.acme the
// way the gateway command builds it (openTLS), serving both listeners.
type acmeGateway struct {
	gw      *gateway.Gateway
	edge    *tlsEdge
	tlsAddr string
}

// startACMEGateway serves routes on plain and on an HTTPS listener whose
// certificate for domain comes from the ACME directory dir (whose HTTPS
// chains to rootsFile), until the test ends.
func startACMEGateway(t *testing.T, plain, dir, rootsFile, domain string) *acmeGateway {
	t.Helper()
	work := t.TempDir()
	tlsAddr := freeAddr(t)
	file := filepath.Join(work, "gateway.yaml")
	yaml := `listen: "` + plain + `"
admin: "off"
tls:
  listen: "` + tlsAddr + `"
  acme:
    domains: [` + domain + `]
    ca: ` + dir + `
    ca_roots_file: ` + rootsFile + `
    dir: ` + filepath.Join(work, "acme") + `
routes:
  - { name: hello, match: { path: /hello }, respond: { body: "hello over acme\n" } }
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	edge, err := openTLS(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(edge.close)
	gw, err := gateway.New(cfg, gateway.Options{Logger: log, ACME: edge.acmeClient()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", plain)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 2)
	go func() { served <- gw.Serve(ln) }()
	edge.served = true
	go func() { served <- gw.ServeTLS(edge.ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		<-served
		<-served
	})
	if err := edge.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &acmeGateway{gw: gw, edge: edge, tlsAddr: tlsAddr}
}

// waitServed waits, at most 60 seconds, until GET /hello over HTTPS as
// domain succeeds with a certificate chaining to issuing.
func (g *acmeGateway) waitServed(t *testing.T, issuing *x509.CertPool, domain string) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: issuing, ServerName: domain}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, "https://"+g.tlsAddr+"/hello", nil)
		req.Host = domain
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "hello over acme\n" {
				t.Fatalf("GET /hello: %s %q", resp.Status, body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate from Pebble served within 60s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
