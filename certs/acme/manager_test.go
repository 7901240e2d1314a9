package acme_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/certs/acme"
	"github.com/fastgate/gateway/certs/certstest"
)

// gateway is the TLS side of a gateway: a certs.Listener whose
// certificates come from an ACME Manager in front of a file Store, and a
// plain HTTP listener that answers HTTP-01 through ServeHTTPChallenge.
type gateway struct {
	manager  *acme.Manager
	tlsAddr  string
	httpAddr string
	mu       sync.Mutex
	events   []string // "event name"
}

func (g *gateway) count(event, name string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, e := range g.events {
		if e == event+" "+name {
			n++
		}
	}
	return n
}

type gatewayOptions struct {
	dir string
	// caRoots is the CA of the ACME server's HTTPS; pebbleCA when empty.
	caRoots  string
	domains  []string
	storage  certmagic.Storage
	fallback *certs.Store
	// tlsLn and httpLn, when set, are the listeners to serve on (a
	// Pebble that validates needs them on its ports).
	tlsLn, httpLn    net.Listener
	disableHTTP01    bool
	disableTLSALPN01 bool
}

func startGateway(t testing.TB, o gatewayOptions) *gateway {
	t.Helper()
	if o.tlsLn == nil {
		o.tlsLn = loopbackListener(t)
	}
	if o.httpLn == nil {
		o.httpLn = loopbackListener(t)
	}
	if o.caRoots == "" {
		o.caRoots = pebbleCA
	}
	g := &gateway{tlsAddr: o.tlsLn.Addr().String(), httpAddr: o.httpLn.Addr().String()}
	s := acme.Settings{
		Domains:          o.domains,
		CA:               o.dir,
		CARootsFile:      o.caRoots,
		HTTPAddr:         g.httpAddr,
		TLSAddr:          g.tlsAddr,
		Storage:          o.storage,
		StorageDir:       t.TempDir(),
		DisableHTTP01:    o.disableHTTP01,
		DisableTLSALPN01: o.disableTLSALPN01,
		Logger:           testLogger(t),
		OnEvent: func(event, name string) {
			g.mu.Lock()
			g.events = append(g.events, event+" "+name)
			g.mu.Unlock()
		},
	}
	m, err := acme.New(s)
	if err != nil {
		t.Fatal(err)
	}
	g.manager = m
	t.Cleanup(func() { _ = m.Close() })

	var fallback func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	if o.fallback != nil {
		fallback = o.fallback.GetCertificate
	}
	cfg, err := certs.ServerConfig(nil, certs.ServerSettings{ACMEALPN: true, GetCertificate: m.GetCertificateFunc(fallback)})
	if err != nil {
		t.Fatal(err)
	}
	ln := certs.NewListener(o.tlsLn, cfg, certs.ListenerSettings{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// The handshake is what the tests look at.
			c.Close()
		}
	})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if body, ok := m.ServeHTTPChallenge(host, r.URL.Path); ok {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(body)
			return
		}
		http.NotFound(w, r)
	})}
	wg.Go(func() { _ = srv.Serve(o.httpLn) })
	t.Cleanup(func() {
		_ = ln.Close()
		_ = srv.Close()
		wg.Wait()
	})
	return g
}

// served returns the leaf the gateway serves for name, verified against
// roots, or nil when the handshake fails or does not verify.
func served(t testing.TB, addr, name string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: name, RootCAs: roots})
	if err != nil {
		return nil
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

func TestObtainAndServe(t *testing.T) {
	dir, roots := pebble(t)
	ca := certstest.NewCA(t, "file CA")
	leaf := ca.Issue(t, certstest.LeafOptions{Names: []string{"files.example.test"}})
	p, err := certs.ParsePair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	set, err := certs.NewSet([]*certs.Pair{p}, certs.SetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	domain := "a-" + randomHex(t, 4) + ".acme.test"
	g := startGateway(t, gatewayOptions{dir: dir, domains: []string{domain}, fallback: certs.NewStore(set)})

	if exp := g.manager.Expiry(); len(exp) != 0 {
		t.Errorf("Expiry() before any certificate: %+v", exp)
	}
	// Before the certificate exists, and for other names, the file
	// certificates answer.
	if got := served(t, g.tlsAddr, "files.example.test", ca.Pool()); got == nil {
		t.Fatal("the file certificate is not served beside the ACME manager")
	}
	if err := g.manager.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got *x509.Certificate
	eventually(t, 60*time.Second, "the ACME certificate to be served", func() bool {
		got = served(t, g.tlsAddr, domain, roots)
		return got != nil
	})
	if len(got.DNSNames) != 1 || got.DNSNames[0] != domain {
		t.Errorf("served names %v, want %s", got.DNSNames, domain)
	}
	if exp := g.manager.Expiry(); len(exp) != 1 || exp[0].Names[0] != domain || !exp[0].NotAfter.Equal(got.NotAfter) {
		t.Errorf("Expiry() = %+v, want %s until %v", exp, domain, got.NotAfter)
	}
	if g.count("cert_obtained", domain) != 1 {
		t.Errorf("events %v, want one cert_obtained for %s", g.events, domain)
	}
	if served(t, g.tlsAddr, "files.example.test", ca.Pool()) == nil {
		t.Error("the file certificate is no longer served")
	}
	if _, ok := g.manager.ServeHTTPChallenge(domain, "/.well-known/acme-challenge/unknown-token"); ok {
		t.Error("an unknown HTTP-01 token was answered")
	}
	if _, ok := g.manager.ServeHTTPChallenge(domain, "/index.html"); ok {
		t.Error("a request that is no challenge was answered")
	}
}

// TestTwoGatewaysShareRedis: two gateways sharing a Redis storage start
// at once for the same name; one certificate is obtained and both serve
// it.
func TestTwoGatewaysShareRedis(t *testing.T) {
	dir, roots := pebble(t)
	rdb, prefix := sharedRedis(t)
	domain := "shared-" + randomHex(t, 4) + ".acme.test"
	a := startGateway(t, gatewayOptions{dir: dir, domains: []string{domain}, storage: newRedisStorage(t, rdb, prefix, 0)})
	b := startGateway(t, gatewayOptions{dir: dir, domains: []string{domain}, storage: newRedisStorage(t, rdb, prefix, 0)})

	var wg sync.WaitGroup
	for _, g := range []*gateway{a, b} {
		wg.Go(func() {
			if err := g.manager.Start(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var fromA, fromB *x509.Certificate
	eventually(t, 60*time.Second, "both gateways to serve the certificate", func() bool {
		fromA, fromB = served(t, a.tlsAddr, domain, roots), served(t, b.tlsAddr, domain, roots)
		return fromA != nil && fromB != nil
	})
	if !fromA.Equal(fromB) {
		t.Errorf("the gateways serve different certificates (serials %v and %v): both obtained one", fromA.SerialNumber, fromB.SerialNumber)
	}
	if n := a.count("cert_obtained", domain) + b.count("cert_obtained", domain); n != 1 {
		t.Errorf("%d certificates obtained, want 1 (events A %v, B %v)", n, a.events, b.events)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tt := range []struct {
		desc string
		give acme.Settings
	}{
		{desc: "no domains", give: acme.Settings{}},
		{desc: "wildcard", give: acme.Settings{Domains: []string{"*.example.com"}}},
		{desc: "IP address", give: acme.Settings{Domains: []string{"10.0.0.1"}}},
		{desc: "both challenges off", give: acme.Settings{Domains: []string{"a.example.com"}, DisableHTTP01: true, DisableTLSALPN01: true}},
		{desc: "bad address", give: acme.Settings{Domains: []string{"a.example.com"}, HTTPAddr: "nope"}},
		{desc: "missing CA roots", give: acme.Settings{Domains: []string{"a.example.com"}, CARootsFile: "testdata/missing.pem"}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			m, err := acme.New(tt.give)
			if err == nil {
				m.Close()
				t.Error("accepted")
			}
		})
	}
}
