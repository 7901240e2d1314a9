package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/certs/certstest"
)

func TestServerConfigDefaults(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	store := certs.NewStore(newSet(t, certs.SetOptions{}, pair(t, ca, "api.example.com")))

	cfg := serverConfig(t, store, certs.ServerSettings{})
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %#x, want TLS 1.2", cfg.MinVersion)
	}
	if cfg.CipherSuites != nil || cfg.CurvePreferences != nil {
		t.Error("cipher suites or curves set: want Go's defaults")
	}
	if got := strings.Join(cfg.NextProtos, ","); got != "http/1.1" {
		t.Errorf("NextProtos %s, want http/1.1", got)
	}
	if cfg.ClientAuth != tls.NoClientCert {
		t.Errorf("ClientAuth %v, want none", cfg.ClientAuth)
	}
	acme := serverConfig(t, store, certs.ServerSettings{ACMEALPN: true, MinVersion: tls.VersionTLS13})
	if got := strings.Join(acme.NextProtos, ","); got != "http/1.1,acme-tls/1" {
		t.Errorf("NextProtos with ACME %s, want http/1.1,acme-tls/1", got)
	}
	if acme.MinVersion != tls.VersionTLS13 {
		t.Errorf("MinVersion %#x, want TLS 1.3", acme.MinVersion)
	}
}

// TestALPNNeverH2: a client that prefers h2 gets http/1.1, since the
// server behind is fasthttp.
func TestALPNNeverH2(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	store := certs.NewStore(newSet(t, certs.SetOptions{}, pair(t, ca, "api.example.com")))
	srv := startLineServer(t, serverConfig(t, store, certs.ServerSettings{ACMEALPN: true}), certs.ListenerSettings{})
	cfg := clientConfig(ca, "api.example.com")
	cfg.NextProtos = []string{"h2", "http/1.1"}
	c, err := dial(t, srv.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.ConnectionState().NegotiatedProtocol; got != "http/1.1" {
		t.Errorf("negotiated %q, want http/1.1", got)
	}
}

func TestMinVersion(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	store := certs.NewStore(newSet(t, certs.SetOptions{}, pair(t, ca, "api.example.com")))
	tests := []struct {
		desc      string
		server    uint16
		clientMax uint16
		wantOK    bool
	}{
		{desc: "default refuses TLS 1.1", clientMax: tls.VersionTLS11},
		{desc: "default accepts TLS 1.2", clientMax: tls.VersionTLS12, wantOK: true},
		{desc: "1.3 refuses TLS 1.2", server: tls.VersionTLS13, clientMax: tls.VersionTLS12},
		{desc: "1.3 accepts TLS 1.3", server: tls.VersionTLS13, clientMax: tls.VersionTLS13, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			srv := startLineServer(t, serverConfig(t, store, certs.ServerSettings{MinVersion: tt.server}), certs.ListenerSettings{})
			cfg := clientConfig(ca, "api.example.com")
			cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tt.clientMax
			c, err := dial(t, srv.addr, cfg)
			if err == nil {
				c.Close()
			}
			if (err == nil) != tt.wantOK {
				t.Errorf("handshake error %v, want ok=%v", err, tt.wantOK)
			}
		})
	}
	if _, err := certs.ServerConfig(store, certs.ServerSettings{MinVersion: tls.VersionTLS11}); err == nil {
		t.Error("minimum TLS 1.1 accepted")
	}
}

func TestClientCertificates(t *testing.T) {
	serverCA := certstest.NewCA(t, "server CA")
	clientCA := certstest.NewCA(t, "client CA")
	strangerCA := certstest.NewCA(t, "stranger CA")
	dir := t.TempDir()
	caFile := clientCA.WriteCA(t, dir, "clients.pem")
	store := certs.NewStore(newSet(t, certs.SetOptions{}, pair(t, serverCA, "api.example.com")))

	alice := clientCA.Issue(t, certstest.LeafOptions{Names: []string{"alice.example.com"}, CommonName: "alice", Client: true})
	aliceCert, err := tls.X509KeyPair(alice.CertPEM, alice.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	mallory := strangerCA.Issue(t, certstest.LeafOptions{Names: []string{"mallory.example.com"}, Client: true})
	malloryCert, err := tls.X509KeyPair(mallory.CertPEM, mallory.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		desc         string
		mode         certs.ClientAuth
		cert         *tls.Certificate
		wantOK       bool
		wantIdentity string
	}{
		{desc: "require: verified client", mode: certs.ClientAuthRequire, cert: &aliceCert, wantOK: true,
			wantIdentity: `Subject="CN=alice,O=certstest";DNS="alice.example.com"`},
		{desc: "require: no certificate refused", mode: certs.ClientAuthRequire},
		{desc: "require: unknown CA refused", mode: certs.ClientAuthRequire, cert: &malloryCert},
		{desc: "verify_if_given: verified client", mode: certs.ClientAuthVerifyIfGiven, cert: &aliceCert, wantOK: true,
			wantIdentity: `Subject="CN=alice,O=certstest";DNS="alice.example.com"`},
		{desc: "verify_if_given: no certificate accepted", mode: certs.ClientAuthVerifyIfGiven, wantOK: true},
		{desc: "verify_if_given: unknown CA refused", mode: certs.ClientAuthVerifyIfGiven, cert: &malloryCert},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var identity atomic.Pointer[string]
			srv := startLineServer(t,
				serverConfig(t, store, certs.ServerSettings{ClientAuth: tt.mode, ClientCAFile: caFile}),
				certs.ListenerSettings{OnHandshake: func(st *tls.ConnectionState, _ error) {
					id := certs.ClientIdentity(st)
					identity.Store(&id)
				}})
			cfg := clientConfig(serverCA, "api.example.com")
			if tt.cert != nil {
				// Send it even when the server's list of acceptable CAs
				// does not name its issuer (Go's client would send none).
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					return tt.cert, nil
				}
			}
			// TLS 1.3 clients finish before the server checks their
			// certificate; the first exchange shows the verdict.
			c, err := dial(t, srv.addr, cfg)
			if err == nil {
				c.Close()
			}
			if (err == nil) != tt.wantOK {
				t.Fatalf("handshake error %v, want ok=%v", err, tt.wantOK)
			}
			if tt.wantOK && *identity.Load() != tt.wantIdentity {
				t.Errorf("identity %q, want %q", *identity.Load(), tt.wantIdentity)
			}
		})
	}
}

func TestServerConfigRefuses(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	dir := t.TempDir()
	caFile := ca.WriteCA(t, dir, "ca.pem")
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("# nothing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := &certs.Store{}
	tests := []struct {
		desc     string
		store    *certs.Store
		give     certs.ServerSettings
		wantText string
	}{
		{desc: "no certificate source", give: certs.ServerSettings{}, wantText: "needs a Store"},
		{desc: "mode without CA", store: store, give: certs.ServerSettings{ClientAuth: certs.ClientAuthRequire}, wantText: "needs a client CA file"},
		{desc: "CA without mode", store: store, give: certs.ServerSettings{ClientCAFile: caFile}, wantText: "without a client_auth mode"},
		{desc: "unknown mode", store: store, give: certs.ServerSettings{ClientAuth: "maybe", ClientCAFile: caFile}, wantText: `"maybe"`},
		{desc: "CA file without certificates", store: store, give: certs.ServerSettings{ClientAuth: certs.ClientAuthRequire, ClientCAFile: empty}, wantText: empty},
		{desc: "missing ticket key file", store: store, give: certs.ServerSettings{TicketKeysFile: filepath.Join(dir, "nope")}, wantText: "nope: cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := certs.ServerConfig(tt.store, tt.give)
			if err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %v, want one containing %q", err, tt.wantText)
			}
		})
	}
}

func TestClientIdentityQuotes(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	leaf := ca.Issue(t, certstest.LeafOptions{CommonName: "evil\r\nX-Injected: 1\"", Names: []string{"a.example.com", "10.0.0.7"}, Client: true})
	u, _ := url.Parse("spiffe://example/alice")
	leaf.Cert.URIs = append(leaf.Cert.URIs, u)
	leaf.Cert.EmailAddresses = append(leaf.Cert.EmailAddresses, "alice@example.com")
	got := certs.ClientIdentity(&tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf.Cert}}})
	want := `Subject="CN=evil\r\nX-Injected: 1\\\",O=certstest";DNS="a.example.com";URI="spiffe://example/alice";Email="alice@example.com";IP="10.0.0.7"`
	if got != want {
		t.Errorf("ClientIdentity\n got %s\nwant %s", got, want)
	}
	if strings.ContainsAny(got, "\r\n") {
		t.Error("identity holds a line break")
	}
	if certs.ClientIdentity(&tls.ConnectionState{}) != "" || certs.ClientIdentity(nil) != "" {
		t.Error("identity without a verified certificate is not empty")
	}
}
