package gateway

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/certs/certstest"
	"github.com/fastgate/gateway/internal/logtest"
)

// TestTLSClientCertificates: mTLS at the edge in both modes; the verified
// identity reaches the upstream in the named header, and a client's own
// copy of that header never does.
func TestTLSClientCertificates(t *testing.T) {
	for _, mode := range []string{"require", "verify_if_given"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			ca := certstest.NewCA(t, "server CA")
			ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}}).Write(t, dir, "a")
			clientCA := certstest.NewCA(t, "client CA")
			clientCA.WriteCA(t, dir, "client-ca.pem")
			alice := clientCA.Issue(t, certstest.LeafOptions{Names: []string{"alice.example.com"}, CommonName: "alice", Client: true})
			aliceCert, err := tls.X509KeyPair(alice.CertPEM, alice.KeyPEM)
			if err != nil {
				t.Fatal(err)
			}
			stranger := certstest.NewCA(t, "stranger CA").Issue(t, certstest.LeafOptions{Names: []string{"mallory"}, Client: true})
			strangerCert, err := tls.X509KeyPair(stranger.CertPEM, stranger.KeyPEM)
			if err != nil {
				t.Fatal(err)
			}
			var seen []string
			up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
				seen = seen[:0]
				for k, v := range ctx.Request.Header.All() {
					if strings.EqualFold(string(k), "X-Client-Cert") {
						seen = append(seen, string(v))
					}
				}
			})
			g := startTLSGateway(t, dir, ca, tlsYAML("    - { cert_file: a.crt, key_file: a.key }\n",
				"  client_auth: { ca_file: client-ca.pem, mode: "+mode+", header: X-Client-Cert }\n",
				"  - name: up\n    match: { path: /up }\n    upstream: { targets: [\"{UP1}\"] }\n"), Options{}, up)

			forged := map[string]string{"X-Client-Cert": `Subject="CN=admin"`}
			c := httpsClient(t, ca.Pool(), "a.example.com", aliceCert)
			if code, _, _ := g.get(t, c, "a.example.com", "/up", forged); code != 200 {
				t.Fatalf("with a client certificate: %d", code)
			}
			if len(seen) != 1 || !strings.Contains(seen[0], `Subject="CN=alice,`) || !strings.Contains(seen[0], `DNS="alice.example.com"`) {
				t.Errorf("upstream saw X-Client-Cert %q, want alice's identity alone", seen)
			}
			// A certificate from a CA the gateway does not trust is refused
			// in either mode (sent whatever CAs the gateway asks for).
			forcing := httpsClient(t, ca.Pool(), "a.example.com")
			forcing.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return &strangerCert, nil
			}
			if _, err := forcing.Get("https://" + g.tlsAddr + "/up"); err == nil {
				t.Error("a client certificate from an unknown CA was accepted")
			}
			_, err = httpsClient(t, ca.Pool(), "a.example.com").Get("https://" + g.tlsAddr + "/up")
			switch mode {
			case "require":
				if err == nil {
					t.Error("a client without a certificate was served under require")
				}
			case "verify_if_given":
				if err != nil {
					t.Fatalf("a client without a certificate under verify_if_given: %v", err)
				}
				if code, _, _ := g.get(t, httpsClient(t, ca.Pool(), "a.example.com"), "a.example.com", "/up", forged); code != 200 || len(seen) != 0 {
					t.Errorf("without a certificate: %d, upstream saw %q, want no X-Client-Cert", code, seen)
				}
			}
			// Over plain HTTP the client's copy is removed too.
			g.do(t, "GET", "/up", forged, "")
			if len(seen) != 0 {
				t.Errorf("over plain HTTP the upstream saw X-Client-Cert %q", seen)
			}
		})
	}
}

// TestTLSRedirectAndHSTS: with redirect_http the plain listener answers
// 308 to the HTTPS listener for every route; a route's hsts goes with its
// answers over HTTPS only.
func TestTLSRedirectAndHSTS(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "test CA")
	ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}}).Write(t, dir, "a")
	g := startTLSGateway(t, dir, ca, tlsYAML("    - { cert_file: a.crt, key_file: a.key }\n", "  redirect_http: true\n",
		"  - name: hello\n    match: { path: /hello }\n    hsts: \"max-age=31536000; includeSubDomains\"\n    respond: { status: 200, body: hi }\n"), Options{})
	_, port, _ := strings.Cut(g.tlsAddr, ":")
	for _, tt := range []struct{ method, path, want string }{
		{"GET", "/hello?x=1", "https://a.example.com:" + port + "/hello?x=1"},
		{"POST", "/no-such-route", "https://a.example.com:" + port + "/no-such-route"},
	} {
		resp := g.do(t, tt.method, tt.path, map[string]string{"Host": "a.example.com:8080"}, "")
		if resp.StatusCode() != 308 || string(resp.Header.Peek("Location")) != tt.want {
			t.Errorf("%s %s over HTTP: %d Location %q, want 308 %s", tt.method, tt.path, resp.StatusCode(), resp.Header.Peek("Location"), tt.want)
		}
		if h := resp.Header.Peek("Strict-Transport-Security"); len(h) != 0 {
			t.Errorf("HSTS over plain HTTP: %q", h)
		}
	}
	c := httpsClient(t, ca.Pool(), "a.example.com")
	code, hdr, body := g.get(t, c, "a.example.com", "/hello", nil)
	if code != 200 || body != "hi" || hdr.Get("Strict-Transport-Security") != "max-age=31536000; includeSubDomains" {
		t.Errorf("GET /hello over HTTPS: %d %q HSTS %q", code, body, hdr.Get("Strict-Transport-Security"))
	}
}

// TestTLSAccessLogFields: a request over TLS logs its TLS version and the
// server name the client asked for; a plain one neither.
func TestTLSAccessLogFields(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "test CA")
	ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}}).Write(t, dir, "a")
	var out logtest.Buffer
	g := startTLSGateway(t, dir, ca, "access_log: { output: stdout }\n"+
		tlsYAML("    - { cert_file: a.crt, key_file: a.key }\n", "", helloRoute), Options{AccessLogOutput: &out})
	if code, _, _ := g.get(t, httpsClient(t, ca.Pool(), "a.example.com"), "a.example.com", "/hello", nil); code != 200 {
		t.Fatalf("GET over HTTPS: %d", code)
	}
	g.do(t, "GET", "/hello", nil, "")
	waitTLS(t, "two access log lines", func() bool { return strings.Count(out.String(), "\n") >= 2 })
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.Contains(lines[0], `"tls_version":"1.3","sni":"a.example.com"`) {
		t.Errorf("HTTPS line lacks the TLS fields: %s", lines[0])
	}
	if strings.Contains(lines[1], "tls_version") || strings.Contains(lines[1], `"sni"`) {
		t.Errorf("plain line has TLS fields: %s", lines[1])
	}
}

// TestTLSTicketKeysShared: two gateways with the same
// session_ticket_keys_file resume each other's sessions, and the
// resumption is counted.
func TestTLSTicketKeysShared(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "test CA")
	ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}}).Write(t, dir, "a")
	keys := "# shared by the fleet\n" + strings.Repeat("ab", 32) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "tickets"), []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := tlsYAML("    - { cert_file: a.crt, key_file: a.key }\n", "  session_ticket_keys_file: tickets\n", helloRoute)
	g1 := startTLSGateway(t, dir, ca, yaml, Options{})
	dir2 := t.TempDir()
	for _, f := range []string{"a.crt", "a.key", "tickets"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir2, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	g2 := startTLSGateway(t, dir2, ca, yaml, Options{})
	cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "a.example.com", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	handshake := func(addr string) bool {
		t.Helper()
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// TLS 1.3 tickets come after the handshake: read the answer of a
		// request so that the ticket has arrived.
		if _, err := c.Write([]byte("GET /hello HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, c)
		return c.ConnectionState().DidResume
	}
	if handshake(g1.tlsAddr) {
		t.Fatal("the first handshake resumed")
	}
	if !handshake(g2.tlsAddr) {
		t.Error("the second gateway did not resume the first one's session")
	}
	waitTLS(t, "the resumption counted", func() bool {
		return g2.metric(t, `gateway_tls_connections_total{resumed="true",version="1.3"}`) == 1
	})
}
