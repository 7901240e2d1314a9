package acme_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/fastgate/gateway/internal/pebbletest"
)

// The tests against a Pebble that validates for real (internal/pebbletest):
// it resolves every name to 127.0.0.1 and checks HTTP-01 and TLS-ALPN-01
// on the ports given, where the test's gateways listen.

// TestHTTP01Validated: a Pebble that really validates fetches the HTTP-01
// answer from a gateway's plain listener. The order is placed by gateway
// A, and the listener Pebble reaches belongs to gateway B, which shares
// A's Redis storage: any gateway of a fleet answers.
func TestHTTP01Validated(t *testing.T) {
	rdb, prefix := sharedRedis(t)
	httpOfB := loopbackListener(t)
	p := pebbletest.Start(t, pebbletest.Options{HTTPPort: httpOfB.Addr().(*net.TCPAddr).Port})
	domain := "http01-" + randomHex(t, 4) + ".acme.test"
	a := startGateway(t, gatewayOptions{dir: p.Directory, caRoots: p.RootsFile, domains: []string{domain}, storage: newRedisStorage(t, rdb, prefix, 0), disableTLSALPN01: true})
	startGateway(t, gatewayOptions{dir: p.Directory, caRoots: p.RootsFile, domains: []string{domain}, storage: newRedisStorage(t, rdb, prefix, 0), disableTLSALPN01: true, httpLn: httpOfB})

	if err := a.manager.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "A to serve a certificate validated over HTTP-01", func() bool {
		if a.count("cert_failed", domain) > 0 {
			t.Fatalf("the order failed: %v", a.events)
		}
		return served(t, a.tlsAddr, domain, p.Issuing) != nil
	})
}

// TestTLSALPN01Validated: a Pebble that really validates makes an
// acme-tls/1 handshake with the gateway's TLS listener.
func TestTLSALPN01Validated(t *testing.T) {
	tlsLn := loopbackListener(t)
	p := pebbletest.Start(t, pebbletest.Options{TLSPort: tlsLn.Addr().(*net.TCPAddr).Port})
	domain := "alpn-" + randomHex(t, 4) + ".acme.test"
	g := startGateway(t, gatewayOptions{dir: p.Directory, caRoots: p.RootsFile, domains: []string{domain}, disableHTTP01: true, tlsLn: tlsLn})
	if err := g.manager.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "a certificate validated over TLS-ALPN-01", func() bool {
		if g.count("cert_failed", domain) > 0 {
			t.Fatalf("the order failed: %v", g.events)
		}
		return served(t, g.tlsAddr, domain, p.Issuing) != nil
	})
}
