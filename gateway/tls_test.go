package gateway

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/certs/certstest"
	"github.com/fastgate/gateway/config"
)

// tlsYAML is a configuration with an HTTPS listener on the given
// certificates, then the extra top-level tls lines, then routes.
func tlsYAML(certLines, tlsExtra, routes string) string {
	return "listen: \"127.0.0.1:0\"\nadmin: \"off\"\ntls:\n  listen: \"127.0.0.1:0\"\n  certificates:\n" +
		certLines + tlsExtra + "routes:\n" + routes
}

const helloRoute = "  - name: hello\n    match: { path: /hello }\n    respond: { status: 200, body: \"hello\\n\" }\n"

// TestTLSServesRoutesBySNI: the HTTPS listener serves the plain
// listener's routes, and picks the certificate by the client's server
// name: exact, then wildcard, then the default.
func TestTLSServesRoutesBySNI(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "test CA")
	ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}}).Write(t, dir, "a")
	ca.Issue(t, certstest.LeafOptions{Names: []string{"*.b.example.com"}}).Write(t, dir, "b")
	ca.Issue(t, certstest.LeafOptions{Names: []string{"default.example.com", "127.0.0.1"}}).Write(t, dir, "default")
	var proto string
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		proto = string(ctx.Request.Header.Peek("X-Forwarded-Proto"))
		ctx.SetBodyString("up")
	})
	g := startTLSGateway(t, dir, ca, tlsYAML(
		"    - { cert_file: a.crt, key_file: a.key }\n    - { cert_file: b.crt, key_file: b.key }\n    - { cert_file: default.crt, key_file: default.key }\n",
		"  default: default.crt\n",
		helloRoute+"  - name: up\n    match: { path: /up }\n    upstream: { targets: [\"{UP1}\"] }\n"), Options{}, up)

	for _, tt := range []struct{ desc, give, want string }{
		{"exact name", "a.example.com", "a.example.com"},
		{"wildcard", "x.b.example.com", "*.b.example.com"},
		{"unknown name gets the default", "other.example.com", "default.example.com"},
		{"no name gets the default", "", "default.example.com"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			leaf, err := g.servedCert(t, tt.give)
			if err != nil {
				t.Fatal(err)
			}
			if leaf.DNSNames[0] != tt.want {
				t.Errorf("served %v, want %s", leaf.DNSNames, tt.want)
			}
		})
	}
	c := httpsClient(t, ca.Pool(), "a.example.com")
	if code, _, body := g.get(t, c, "a.example.com", "/hello", nil); code != 200 || body != "hello\n" {
		t.Errorf("GET /hello over HTTPS: %d %q", code, body)
	}
	if code, _, body := g.get(t, c, "a.example.com", "/up", nil); code != 200 || body != "up" || proto != "https" {
		t.Errorf("GET /up over HTTPS: %d %q, X-Forwarded-Proto %q", code, body, proto)
	}
	// The plain listener still serves.
	if resp := g.do(t, "GET", "/up", nil, ""); resp.StatusCode() != 200 || proto != "http" {
		t.Errorf("GET /up over HTTP: %d, X-Forwarded-Proto %q", resp.StatusCode(), proto)
	}
	if v := g.metric(t, `gateway_tls_handshakes_total{result="ok"}`); v < 5 {
		t.Errorf("gateway_tls_handshakes_total{result=\"ok\"} = %v, want at least 5", v)
	}
	if v := g.metric(t, `gateway_tls_certificate_expiry_timestamp_seconds{name="a.example.com",source="file"}`); v <= float64(time.Now().Unix()) {
		t.Errorf("expiry gauge of a.example.com = %v, want its NotAfter", v)
	}
}

// TestTLSStrictSNI: under strict_sni a name no certificate covers, or
// none at all, is refused in the handshake.
func TestTLSStrictSNI(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "test CA")
	ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}}).Write(t, dir, "a")
	g := startTLSGateway(t, dir, ca, tlsYAML("    - { cert_file: a.crt, key_file: a.key }\n", "  strict_sni: true\n", helloRoute), Options{})
	if _, err := g.servedCert(t, "a.example.com"); err != nil {
		t.Fatalf("known name refused: %v", err)
	}
	for _, name := range []string{"other.example.com", ""} {
		if _, err := g.servedCert(t, name); err == nil {
			t.Errorf("name %q was served under strict SNI", name)
		}
	}
	waitTLS(t, "unknown_name handshakes counted", func() bool {
		return g.metric(t, `gateway_tls_handshakes_total{result="unknown_name"}`) == 2
	})
}

// TestTLSBadPairRefusedAtReload: a reload whose certificate does not load
// is refused, naming the file, and the certificate serving goes on; at
// start the same is an error.
func TestTLSBadPairRefusedAtReload(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "test CA")
	first := ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}})
	first.Write(t, dir, "a")
	g := startTLSGateway(t, dir, ca, tlsYAML("    - { cert_file: a.crt, key_file: a.key }\n", "", helloRoute), Options{})

	// A key that is not the certificate's: the configuration is refused.
	other := ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}})
	writeAtomic(t, filepath.Join(dir, "a.key"), other.KeyPEM)
	err := g.reload(t)
	if err == nil || !strings.Contains(err.Error(), "a.key") {
		t.Fatalf("reload with a mismatched key: %v, want an error naming a.key", err)
	}
	// The files break after the configuration was checked: the gateway's
	// own load refuses it.
	writeAtomic(t, filepath.Join(dir, "a.key"), first.KeyPEM)
	cfg, err := config.Load(g.file)
	if err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, filepath.Join(dir, "a.crt"), []byte("garbage\n"))
	_, err = g.Apply(cfg)
	if !errors.Is(err, certs.ErrNotPEM) || !strings.Contains(err.Error(), filepath.Join(dir, "a.crt")) {
		t.Fatalf("Apply with a broken certificate file: %v, want certs.ErrNotPEM naming the file", err)
	}
	leaf, err := g.servedCert(t, "a.example.com")
	if err != nil || !leaf.Equal(first.Cert) {
		t.Fatalf("after refused reloads the gateway serves %v (err %v), want the first certificate", leaf, err)
	}
	// At start the same is an error naming the file.
	if _, err := New(cfg, Options{Logger: silentLog()}); err == nil || !strings.Contains(err.Error(), "a.crt") {
		t.Fatalf("New with a broken certificate file: %v, want an error naming it", err)
	}
}

// writeAtomic replaces a file as cert-manager and editors do: a new file
// renamed over the old one.
func writeAtomic(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestTLSBadInputClosed: plain HTTP, garbage and a stalled handshake on
// the HTTPS port are closed there (the stalled one once
// tls.handshake_timeout passes) and counted, while the gateway serves on.
func TestTLSBadInputClosed(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "test CA")
	ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}}).Write(t, dir, "a")
	g := startTLSGateway(t, dir, ca, tlsYAML("    - { cert_file: a.crt, key_file: a.key }\n", "  handshake_timeout: 300ms\n", helloRoute), Options{})

	closedWithin := func(desc string, send []byte, within time.Duration) {
		t.Helper()
		c, err := net.Dial("tcp", g.tlsAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if len(send) > 0 {
			if _, err := c.Write(send); err != nil {
				t.Fatalf("%s: write: %v", desc, err)
			}
		}
		_ = c.SetReadDeadline(time.Now().Add(within))
		// The gateway may send an alert before closing: read to the end.
		_, err = io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: connection still open after %v", desc, within)
		}
	}
	closedWithin("plain HTTP", []byte("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"), 5*time.Second)
	closedWithin("garbage", []byte("\x16\x03\x01\xff\xffgarbage garbage garbage"), 5*time.Second)
	closedWithin("stalled handshake", nil, 5*time.Second)

	c := httpsClient(t, ca.Pool(), "a.example.com")
	if code, _, _ := g.get(t, c, "a.example.com", "/hello", nil); code != 200 {
		t.Errorf("after bad input, GET /hello = %d", code)
	}
	if resp := g.do(t, "GET", "/hello", nil, ""); resp.StatusCode() != 200 {
		t.Errorf("plain listener after bad input: %d", resp.StatusCode())
	}
	waitTLS(t, "bad handshakes counted", func() bool {
		return g.metric(t, `gateway_tls_handshakes_total{result="not_tls"}`) >= 1 &&
			g.metric(t, `gateway_tls_handshakes_total{result="timeout"}`) >= 1
	})
}

// TestTLSCurl: curl --cacert, as docs/tls.md shows it, reaches a route.
func TestTLSCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl on this machine")
	}
	dir := t.TempDir()
	ca := certstest.NewCA(t, "test CA")
	caFile := ca.WriteCA(t, dir, "ca.pem")
	ca.Issue(t, certstest.LeafOptions{Names: []string{"localhost"}}).Write(t, dir, "localhost")
	g := startTLSGateway(t, dir, ca, tlsYAML("    - { cert_file: localhost.crt, key_file: localhost.key }\n", "", helloRoute), Options{})
	_, port, _ := net.SplitHostPort(g.tlsAddr)
	out, err := exec.Command(curl, "-sS", "--max-time", "10", "--cacert", caFile,
		"--resolve", "localhost:"+port+":127.0.0.1", "https://localhost:"+port+"/hello").CombinedOutput()
	if err != nil || string(out) != "hello\n" {
		t.Fatalf("curl: %v: %s", err, out)
	}
}

// waitTLS polls cond until it holds, for at most 5 seconds.
func waitTLS(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 5s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
