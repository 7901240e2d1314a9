package reloader

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fastgate/gateway/certs/certstest"
	"github.com/fastgate/gateway/config"
)

// A certificate renewed in a directory of its own (as cert-manager or
// certbot write them) starts a reload whose configuration has a new Hash.
func TestCertificateFileChangeReloads(t *testing.T) {
	dir := t.TempDir()
	certDir := filepath.Join(dir, "certs")
	mkdir(t, certDir)
	ca := certstest.NewCA(t, "test CA")
	leaf := ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}})
	leaf.Write(t, certDir, "a")
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, "listen: \"127.0.0.1:0\"\nadmin: \"off\"\ntls:\n  listen: \"127.0.0.1:0\"\n"+
		"  certificates: [{cert_file: certs/a.crt, key_file: certs/a.key}]\n"+routeYAML("a"))
	first, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	before := first.Hash()
	s := start(t, path, true)

	renewed := ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}})
	// The key first, then the certificate: each write is a change.
	writeFile(t, filepath.Join(certDir, "a.key"), string(renewed.KeyPEM))
	writeFile(t, filepath.Join(certDir, "a.crt"), string(renewed.CertPEM))
	c := s.target.waitCall(t, "apply after the certificate changed", func(c call) bool {
		return c.method == "apply" && c.req.FileChange && c.cfg.Hash() != before
	})
	got, err := os.ReadFile(c.cfg.ResolvePath(c.cfg.TLS.Certificates[0].CertFile))
	if err != nil || string(got) != string(renewed.CertPEM) {
		t.Fatalf("the applied configuration does not name the renewed file (err %v)", err)
	}
}
