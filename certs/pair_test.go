package certs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/certs/certstest"
)

func TestLoadPair(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	good := ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}})
	other := ca.Issue(t, certstest.LeafOptions{Names: []string{"b.example.com"}})
	expired := ca.Issue(t, certstest.LeafOptions{Names: []string{"old.example.com"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	future := ca.Issue(t, certstest.LeafOptions{Names: []string{"new.example.com"},
		NotBefore: time.Now().Add(time.Hour), NotAfter: time.Now().Add(48 * time.Hour)})

	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodCert, goodKey := good.Write(t, dir, "good")
	_, otherKey := other.Write(t, dir, "other")
	expiredCert, expiredKey := expired.Write(t, dir, "expired")
	futureCert, futureKey := future.Write(t, dir, "future")
	garbage := write("garbage.pem", []byte("this is not PEM\n"))
	keyOnly := write("keyonly.pem", good.KeyPEM)
	certOnly := write("certonly.pem", good.CertPEM)
	badDER := write("baddre.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	missing := filepath.Join(dir, "missing.pem")
	chain := write("chain.pem", append(append([]byte{}, good.CertPEM...), ca.PEM...))

	tests := []struct {
		desc         string
		cert, key    string
		wantErr      error
		wantFile     string
		wantChainLen int
	}{
		{desc: "good pair", cert: goodCert, key: goodKey, wantChainLen: 1},
		{desc: "chain with intermediate", cert: chain, key: goodKey, wantChainLen: 2},
		{desc: "missing certificate file", cert: missing, key: goodKey, wantErr: fs.ErrNotExist, wantFile: missing},
		{desc: "missing key file", cert: goodCert, key: missing, wantErr: fs.ErrNotExist, wantFile: missing},
		{desc: "certificate file not PEM", cert: garbage, key: goodKey, wantErr: certs.ErrNotPEM, wantFile: garbage},
		{desc: "certificate file holds only a key", cert: keyOnly, key: goodKey, wantErr: certs.ErrNoCertificate, wantFile: keyOnly},
		{desc: "certificate block does not parse", cert: badDER, key: goodKey, wantErr: certs.ErrBadCertificate, wantFile: badDER},
		{desc: "key file not PEM", cert: goodCert, key: garbage, wantErr: certs.ErrNotPEM, wantFile: garbage},
		{desc: "key file holds only a certificate", cert: goodCert, key: certOnly, wantErr: certs.ErrNoKey, wantFile: certOnly},
		{desc: "key of another certificate", cert: goodCert, key: otherKey, wantErr: certs.ErrKeyMismatch, wantFile: otherKey},
		{desc: "expired", cert: expiredCert, key: expiredKey, wantErr: certs.ErrExpired, wantFile: expiredCert},
		{desc: "not yet valid", cert: futureCert, key: futureKey, wantErr: certs.ErrNotYetValid, wantFile: futureCert},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			p, err := certs.LoadPair(tt.cert, tt.key)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("LoadPair: %v", err)
				}
				if p.Leaf() == nil || p.Leaf().DNSNames[0] != "a.example.com" {
					t.Errorf("leaf not parsed at load: %v", p.Leaf())
				}
				if got := len(p.Certificate.Certificate); got != tt.wantChainLen {
					t.Errorf("chain has %d certificates, want %d", got, tt.wantChainLen)
				}
				if p.CertFile != tt.cert || p.KeyFile != tt.key {
					t.Errorf("files %q %q, want %q %q", p.CertFile, p.KeyFile, tt.cert, tt.key)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LoadPair error %v, want %v", err, tt.wantErr)
			}
			var fe *certs.FileError
			if !errors.As(err, &fe) || fe.Path != tt.wantFile {
				t.Fatalf("error %v does not name %s", err, tt.wantFile)
			}
			if !strings.HasPrefix(err.Error(), "certs: "+tt.wantFile+": ") {
				t.Errorf("message %q does not start with the file", err)
			}
		})
	}
}

func TestParsePairKeyFormats(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	leaf := ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}})
	if _, err := certs.ParsePair(leaf.CertPEM, leaf.KeyPEM); err != nil {
		t.Fatalf("PKCS #8 key: %v", err)
	}
	ecKey := pemConvertToSEC1(t, leaf.KeyPEM)
	if _, err := certs.ParsePair(leaf.CertPEM, ecKey); err != nil {
		t.Fatalf("SEC 1 EC key: %v", err)
	}
}
