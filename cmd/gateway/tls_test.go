package main

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fastgate/gateway/certs/certstest"
)

// TestBinaryServesTLS runs the binary on configs/tls.yaml (on free
// loopback ports): curl --cacert with the test-only CA reaches /hello as
// docs/tls.md shows, and a certificate replaced on disk is served after
// SIGHUP without a restart.
func TestBinaryServesTLS(t *testing.T) {
	example, err := os.ReadFile("../../configs/tls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"TEST-ONLY-localhost.crt", "TEST-ONLY-localhost.key"} {
		b, err := os.ReadFile(filepath.Join("../../configs/testdata/tls", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tlsAddr := freeAddr(t)
	cfg := strings.NewReplacer(
		`listen: ":8080"`, `listen: "127.0.0.1:0"`,
		`admin: "127.0.0.1:9901"`, `admin: "off"`,
		`listen: ":8443"`, `listen: "`+tlsAddr+`"`,
		"testdata/tls/", "",
	).Replace(string(example))
	file := filepath.Join(dir, "tls.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, addr := startBinary(t, buildBinary(t), file)
	if got := get(t, addr, "/hello"); !strings.Contains(got, "hello from the gateway") {
		t.Fatalf("plain /hello: %q", got)
	}
	_, port, _ := strings.Cut(tlsAddr, ":")
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-sS", "--max-time", "10", "--cacert", "../../configs/testdata/tls/TEST-ONLY-ca.crt",
			"--resolve", "localhost:"+port+":127.0.0.1", "https://localhost:"+port+"/hello").CombinedOutput()
		if err != nil || string(out) != "hello from the gateway\n" {
			t.Fatalf("curl --cacert: %v: %s", err, out)
		}
	}

	// A renewed certificate on disk, then SIGHUP.
	ca := certstest.NewCA(t, "renewal CA")
	renewed := ca.Issue(t, certstest.LeafOptions{Names: []string{"localhost", "127.0.0.1"}})
	for name, b := range map[string][]byte{"TEST-ONLY-localhost.key": renewed.KeyPEM, "TEST-ONLY-localhost.crt": renewed.CertPEM} {
		if err := os.WriteFile(filepath.Join(dir, name+".new"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, name+".new"), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		leaf := servedLeaf(t, tlsAddr, ca.Pool())
		if leaf != nil && leaf.Equal(renewed.Cert) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate is not served 10s after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// servedLeaf shakes hands with addr as localhost and returns the leaf it
// was served when it verifies against pool (nil otherwise).
func servedLeaf(t *testing.T, addr string, pool *x509.CertPool) *x509.Certificate {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", RootCAs: pool})
	if err != nil {
		return nil
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}
