package pebbletest

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"testing"
	"time"
)

// Shared returns the directory URL of the shared Pebble that make test
// starts (PEBBLE_ADDR, default 127.0.0.1:14000) and the pool of the roots
// it issues under, read from its management port (PEBBLE_MGMT_ADDR,
// default 127.0.0.1:15000). minicaFile is the CA of Pebble's own HTTPS
// endpoints. When Pebble is not running the test skips, or fails under
// REQUIRE_SERVICES.
func Shared(t testing.TB, minicaFile string) (dir string, issuing *x509.CertPool) {
	t.Helper()
	addr := envOr("PEBBLE_ADDR", "127.0.0.1:14000")
	mgmt := envOr("PEBBLE_MGMT_ADDR", "127.0.0.1:15000")
	minica, err := os.ReadFile(minicaFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(minica)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	roots, err := get(&http.Client{Transport: tr, Timeout: 10 * time.Second}, "https://"+mgmt+"/roots/0")
	if err != nil {
		Unavailable(t, "pebble at %s: %v", mgmt, err)
	}
	issuing = x509.NewCertPool()
	if !issuing.AppendCertsFromPEM(roots) {
		t.Fatal("pebble roots: no PEM certificate")
	}
	return "https://" + addr + "/dir", issuing
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
