package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/certs/certstest"
	"github.com/fastgate/gateway/config"
)

// tlsGateway is a gateway serving a configuration file on a plain and an
// HTTPS loopback listener.
type tlsGateway struct {
	*testGateway
	tlsAddr string
	dir     string // where the configuration file and certificates are
	file    string
	ca      *certstest.CA
}

// writeTLSConfig writes yaml into dir/gateway.yaml, {UP1}... replaced by
// the upstreams, and returns the file's path.
func writeTLSConfig(t testing.TB, dir, yaml string, upstreams ...string) string {
	t.Helper()
	for i, u := range upstreams {
		yaml = strings.ReplaceAll(yaml, "{UP"+string(rune('1'+i))+"}", u)
	}
	file := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// startTLSGateway loads dir/gateway.yaml written from yaml and serves it
// on both listeners until the test ends. The yaml's tls.listen must be
// "127.0.0.1:0".
func startTLSGateway(t testing.TB, dir string, ca *certstest.CA, yaml string, opts Options, upstreams ...string) *tlsGateway {
	t.Helper()
	file := writeTLSConfig(t, dir, yaml, upstreams...)
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	// Registered before serveConfigWith's cleanup, so it runs after it:
	// once the gateway is shut down, ServeTLS returns.
	done := make(chan struct{})
	var started bool
	t.Cleanup(func() {
		if started {
			<-done
		}
	})
	var tg *testGateway
	if opts.Logger != nil {
		tg = serveConfigLogged(t, cfg, opts)
	} else {
		tg = serveConfigWith(t, cfg, opts)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started = true
	go func() { defer close(done); _ = tg.ServeTLS(ln) }()
	// ServeTLS takes the port the system chose for redirects first.
	waitTLS(t, "ServeTLS to begin", func() bool { return *tg.edge.port.Load() != "0" })
	return &tlsGateway{testGateway: tg, tlsAddr: ln.Addr().String(), dir: dir, file: file, ca: ca}
}

// reload loads the configuration file again and applies it.
func (g *tlsGateway) reload(t testing.TB) error {
	t.Helper()
	cfg, err := config.Load(g.file)
	if err != nil {
		return err
	}
	_, err = g.Apply(cfg)
	return err
}

// httpsClient is a net/http client trusting pool, with client
// certificates when given; its idle connections close when the test ends.
func httpsClient(t testing.TB, pool *x509.CertPool, serverName string, certs ...tls.Certificate) *http.Client {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: serverName, Certificates: certs},
		MaxIdleConnsPerHost: 1,
		ForceAttemptHTTP2:   false,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// get sends GET path to the HTTPS listener and returns status, headers
// and body.
func (g *tlsGateway) get(t testing.TB, c *http.Client, host, path string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://"+g.tlsAddr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// servedCert shakes hands with the HTTPS listener as serverName (none
// when "") and returns the leaf it was given, or the handshake's error.
func (g *tlsGateway) servedCert(t testing.TB, serverName string) (*x509.Certificate, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", g.tlsAddr, &tls.Config{
		ServerName: serverName, InsecureSkipVerify: true, // the test checks what came
		NextProtos: []string{"http/1.1"},
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// silentLog is a logger that drops everything.
func silentLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// serveConfigLogged is serveConfigWith keeping opts.Logger.
func serveConfigLogged(t testing.TB, cfg *config.Config, opts Options) *testGateway {
	t.Helper()
	gw, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	gw.server.MaxIdleWorkerDuration = 20 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = gw.Serve(ln) }()
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := &http.Server{Handler: gw.AdminHandler()}
	go func() { _ = admin.Serve(adminLn) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		<-done
		_ = admin.Close()
	})
	return &testGateway{Gateway: gw, addr: ln.Addr().String(), admin: "http://" + adminLn.Addr().String(), log: opts.Logger}
}

// startGatewayFile writes yaml (with {UP1}... replaced) to
// dir/gateway.yaml, loads it, so that its relative file names are read
// from dir, and serves it on a plain listener until the test ends.
func startGatewayFile(t testing.TB, dir, yaml string, opts Options, upstreams ...string) *testGateway {
	t.Helper()
	cfg, err := config.Load(writeTLSConfig(t, dir, yaml, upstreams...))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if opts.Logger != nil {
		return serveConfigLogged(t, cfg, opts)
	}
	return serveConfigWith(t, cfg, opts)
}
