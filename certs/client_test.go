package certs_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/certs/certstest"
)

// upstreamConfig serves leaf as is (no checks, so expired ones too),
// optionally requiring client certificates from clientCA.
func upstreamConfig(t testing.TB, leaf *certstest.Leaf, clientCA *certstest.CA) *tls.Config {
	t.Helper()
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if clientCA != nil {
		cfg.ClientCAs = clientCA.Pool()
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg
}

func clientSettingsConfig(t testing.TB, s certs.ClientSettings) *tls.Config {
	t.Helper()
	cfg, err := certs.ClientConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestClientConfigVerification(t *testing.T) {
	ca := certstest.NewCA(t, "upstream CA")
	other := certstest.NewCA(t, "other CA")
	clientCA := certstest.NewCA(t, "gateway client CA")
	dir := t.TempDir()
	caFile := ca.WriteCA(t, dir, "ca.pem")
	clientCert, clientKey := clientCA.Issue(t, certstest.LeafOptions{Names: []string{"gateway.internal"}, Client: true}).Write(t, dir, "client")

	good := startLineServer(t, upstreamConfig(t, ca.Issue(t, certstest.LeafOptions{Names: []string{"users.internal"}}), nil), certs.ListenerSettings{})
	strange := startLineServer(t, upstreamConfig(t, other.Issue(t, certstest.LeafOptions{Names: []string{"users.internal"}}), nil), certs.ListenerSettings{})
	expired := startLineServer(t, upstreamConfig(t, ca.Issue(t, certstest.LeafOptions{Names: []string{"users.internal"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}), nil), certs.ListenerSettings{})
	future := startLineServer(t, upstreamConfig(t, ca.Issue(t, certstest.LeafOptions{Names: []string{"users.internal"},
		NotBefore: time.Now().Add(time.Hour)}), nil), certs.ListenerSettings{})
	mtls := startLineServer(t, upstreamConfig(t, ca.Issue(t, certstest.LeafOptions{Names: []string{"users.internal"}}), clientCA), certs.ListenerSettings{})

	tests := []struct {
		desc       string
		addr       string
		give       certs.ClientSettings
		wantReason string // "" for success
	}{
		{desc: "trusted CA file", addr: good.addr, give: certs.ClientSettings{CAFile: caFile, ServerName: "users.internal"}},
		{desc: "system roots do not know the test CA", addr: good.addr, give: certs.ClientSettings{ServerName: "users.internal"},
			wantReason: "certificate signed by unknown authority"},
		{desc: "other CA", addr: strange.addr, give: certs.ClientSettings{CAFile: caFile, ServerName: "users.internal"},
			wantReason: "certificate signed by unknown authority"},
		{desc: "name mismatch", addr: good.addr, give: certs.ClientSettings{CAFile: caFile, ServerName: "orders.internal"},
			wantReason: "name mismatch"},
		{desc: "expired", addr: expired.addr, give: certs.ClientSettings{CAFile: caFile, ServerName: "users.internal"},
			wantReason: "expired"},
		{desc: "not yet valid", addr: future.addr, give: certs.ClientSettings{CAFile: caFile, ServerName: "users.internal"},
			wantReason: "not yet valid"},
		{desc: "insecure skip verify accepts another CA", addr: strange.addr, give: certs.ClientSettings{InsecureSkipVerify: true, ServerName: "users.internal"}},
		{desc: "mTLS with a client certificate", addr: mtls.addr, give: certs.ClientSettings{CAFile: caFile, ServerName: "users.internal", CertFile: clientCert, KeyFile: clientKey}},
		{desc: "mTLS without a client certificate", addr: mtls.addr, give: certs.ClientSettings{CAFile: caFile, ServerName: "users.internal", MinVersion: tls.VersionTLS13},
			wantReason: "refused by upstream: certificate required"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c, err := dial(t, tt.addr, clientSettingsConfig(t, tt.give))
			if err == nil {
				c.Close()
			}
			if got := certs.VerifyReason(err); got != tt.wantReason {
				t.Errorf("reason %q (error %v), want %q", got, err, tt.wantReason)
			}
		})
	}
}

func TestClientConfigResumes(t *testing.T) {
	ca := certstest.NewCA(t, "upstream CA")
	caFile := ca.WriteCA(t, t.TempDir(), "ca.pem")
	srv := startLineServer(t, upstreamConfig(t, ca.Issue(t, certstest.LeafOptions{Names: []string{"users.internal"}}), nil), certs.ListenerSettings{})
	cfg := clientSettingsConfig(t, certs.ClientSettings{CAFile: caFile, ServerName: "users.internal"})
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %#x, want TLS 1.2", cfg.MinVersion)
	}
	first, err := dial(t, srv.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	second, err := dial(t, srv.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if !second.ConnectionState().DidResume {
		t.Error("the second connection did not resume the first one's session")
	}
}

func TestClientConfigRefuses(t *testing.T) {
	ca := certstest.NewCA(t, "CA")
	dir := t.TempDir()
	certFile, _ := ca.Issue(t, certstest.LeafOptions{Names: []string{"c"}, Client: true}).Write(t, dir, "c")
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc     string
		give     certs.ClientSettings
		wantText string
	}{
		{desc: "CA file not PEM", give: certs.ClientSettings{CAFile: garbage}, wantText: garbage + ": not PEM"},
		{desc: "certificate without key", give: certs.ClientSettings{CertFile: certFile}, wantText: "both a certificate file and a key file"},
		{desc: "mismatched client key", give: certs.ClientSettings{CertFile: certFile, KeyFile: garbage}, wantText: garbage},
		{desc: "TLS 1.0", give: certs.ClientSettings{MinVersion: tls.VersionTLS10}, wantText: "want TLS 1.2 or 1.3"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := certs.ClientConfig(tt.give)
			if err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %v, want one containing %q", err, tt.wantText)
			}
		})
	}
}

func TestVerifyReasonOther(t *testing.T) {
	if got := certs.VerifyReason(nil); got != "" {
		t.Errorf("nil: %q", got)
	}
	if got := certs.VerifyReason(errors.New("boom")); got != "handshake failed" {
		t.Errorf("unknown error: %q", got)
	}
	// An upstream that answers in plain HTTP.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
	}()
	_, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "x"})
	<-done
	if got := certs.VerifyReason(err); got != "upstream does not speak TLS" {
		t.Errorf("plain upstream: %q (error %v)", got, err)
	}
}
