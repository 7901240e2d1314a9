package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/certs/certstest"
)

// startTLSServer serves h over TLS with a certificate for 127.0.0.1 issued
// by ca; clientCAs, when set, requires client certificates from them.
func startTLSServer(t testing.TB, ca *certstest.CA, clientCAs *x509.CertPool, h fasthttp.RequestHandler) *upstreamServer {
	t.Helper()
	leaf := ca.Issue(t, certstest.LeafOptions{Names: []string{"127.0.0.1", "up.internal"}})
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
	srv := &fasthttp.Server{Handler: h, MaxIdleWorkerDuration: 20 * time.Millisecond}
	u := &upstreamServer{addr: ln.Addr().String(), srv: srv}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return u
}

func TestTLSUpstream(t *testing.T) {
	ca := certstest.NewCA(t, "upstream CA")
	clientCA := certstest.NewCA(t, "client CA")
	hello := func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("hello") }
	plainTLS := startTLSServer(t, ca, nil, hello)
	mutual := startTLSServer(t, ca, clientCA.Pool(), hello)
	clientLeaf := clientCA.Issue(t, certstest.LeafOptions{Names: []string{"gateway"}, Client: true})
	clientCert, err := tls.X509KeyPair(clientLeaf.CertPEM, clientLeaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc    string
		addr    string
		give    *tls.Config
		wantErr string // "" for success, else a word of LastTLSError
	}{
		{desc: "verified by the CA, server name from the address", addr: plainTLS.addr, give: &tls.Config{RootCAs: ca.Pool()}},
		{desc: "server name set", addr: plainTLS.addr, give: &tls.Config{RootCAs: ca.Pool(), ServerName: "up.internal"}},
		{desc: "unknown authority", addr: plainTLS.addr, give: &tls.Config{RootCAs: clientCA.Pool()}, wantErr: "unknown authority"},
		{desc: "name mismatch", addr: plainTLS.addr, give: &tls.Config{RootCAs: ca.Pool(), ServerName: "other.internal"}, wantErr: "other.internal"},
		{desc: "mTLS with a client certificate", addr: mutual.addr, give: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{clientCert}}},
		{desc: "mTLS without a client certificate", addr: mutual.addr, give: &tls.Config{RootCAs: ca.Pool()}, wantErr: "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := newClient(t, Settings{Addr: tt.addr, TLS: tt.give})
			var resp fasthttp.Response
			var err error
			for range 3 {
				req := newGet(tt.addr, "/")
				err = c.Do(req, &resp, deadline(5*time.Second))
				if err == nil && string(resp.Body()) != "hello" {
					t.Fatalf("body %q", resp.Body())
				}
				if err != nil {
					break
				}
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Do: %v (TLS: %v)", err, c.LastTLSError())
				}
				if st := c.Stats(); st.Open != 1 {
					t.Errorf("stats %+v, want one connection reused", st)
				}
				return
			}
			// A refused client certificate may only show on the first read
			// (TLS 1.3): then the connection is reset, not the handshake.
			if !errors.Is(err, ErrTLS) && !errors.Is(err, ErrReset) {
				t.Fatalf("Do: %v, want ErrTLS", err)
			}
			if errors.Is(err, ErrTLS) {
				if KindOf(err) != Connect {
					t.Errorf("kind %v, want connect: counted as the target's failure", KindOf(err))
				}
				if last := c.LastTLSError(); last == nil || !strings.Contains(last.Error(), tt.wantErr) {
					t.Errorf("LastTLSError = %v, want one about %q", last, tt.wantErr)
				}
			}
		})
	}
}
