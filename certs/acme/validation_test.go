package acme_test

import (
	"context"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// validatingPebble is a Pebble of the test's own that validates for
// real: it resolves every name to 127.0.0.1 through the test's DNS
// server and checks HTTP-01 on httpPort and TLS-ALPN-01 on tlsPort.
type validatingPebble struct {
	dir   string // ACME directory URL
	roots *x509.CertPool
}

// pebbleBinary finds pebble: PEBBLE_BIN, then PATH, then go's bin.
func pebbleBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PEBBLE_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("pebble"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(filepath.SplitList(string(trimNL(out)))[0], "bin", "pebble")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	require(t, "no pebble binary (PEBBLE_BIN, PATH, $(go env GOPATH)/bin)")
	return ""
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func freePort(t testing.TB) int {
	t.Helper()
	ln := loopbackListener(t)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startValidatingPebble(t testing.TB, httpPort, tlsPort int) *validatingPebble {
	t.Helper()
	bin := pebbleBinary(t)
	dns := startDNS(t)
	acmePort, mgmtPort := freePort(t), freePort(t)
	wd, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", acmePort),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate":                    filepath.Join(wd, "pebble-localhost.cert.pem"),
		"privateKey":                     filepath.Join(wd, "pebble-localhost.key.pem"),
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"keyAlgorithm":                   "ecdsa",
	}}
	data, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(t.TempDir(), "pebble.json")
	if err := os.WriteFile(cfgFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfgFile, "-strict=false", "-dnsserver", dns)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Log("pebble logs:\n" + logs.String())
		}
	})
	t.Setenv("PEBBLE_MGMT_ADDR", fmt.Sprintf("127.0.0.1:%d", mgmtPort))
	t.Setenv("PEBBLE_ADDR", fmt.Sprintf("127.0.0.1:%d", acmePort))
	eventually(t, 30*time.Second, "the test's pebble to listen", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", mgmtPort))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	dir, roots := pebble(t)
	return &validatingPebble{dir: dir, roots: roots}
}

// startDNS answers every A question with 127.0.0.1 and every other one
// with no record, over UDP and TCP (Pebble asks over TCP) on one
// loopback port, whose address it returns.
func startDNS(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out, err := dnsAnswer(buf[:n]); err == nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					c.Close()
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
				}()
				for {
					var size [2]byte
					if _, err := io.ReadFull(c, size[:]); err != nil {
						return
					}
					q := make([]byte, binary.BigEndian.Uint16(size[:]))
					if _, err := io.ReadFull(c, q); err != nil {
						return
					}
					out, err := dnsAnswer(q)
					if err != nil {
						return
					}
					out = append(binary.BigEndian.AppendUint16(nil, uint16(len(out))), out...)
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		pc.Close()
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return pc.LocalAddr().String()
}

func dnsAnswer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if q.Type == dnsmessage.TypeA {
		err := b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
		if err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// TestHTTP01Validated: a Pebble that really validates fetches the HTTP-01
// answer from a gateway's plain listener. The order is placed by gateway
// A, and the listener Pebble reaches belongs to gateway B, which shares
// A's Redis storage: any gateway of a fleet answers.
func TestHTTP01Validated(t *testing.T) {
	rdb, prefix := sharedRedis(t)
	httpOfB := loopbackListener(t)
	p := startValidatingPebble(t, httpOfB.Addr().(*net.TCPAddr).Port, freePort(t))
	domain := "http01-" + randomHex(t, 4) + ".acme.test"
	a := startGateway(t, gatewayOptions{dir: p.dir, domains: []string{domain}, storage: newRedisStorage(t, rdb, prefix, 0), disableTLSALPN01: true})
	startGateway(t, gatewayOptions{dir: p.dir, domains: []string{domain}, storage: newRedisStorage(t, rdb, prefix, 0), disableTLSALPN01: true, httpLn: httpOfB})

	if err := a.manager.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "A to serve a certificate validated over HTTP-01", func() bool {
		if a.count("cert_failed", domain) > 0 {
			t.Fatalf("the order failed: %v", a.events)
		}
		return served(t, a.tlsAddr, domain, p.roots) != nil
	})
}

// TestTLSALPN01Validated: a Pebble that really validates makes an
// acme-tls/1 handshake with the gateway's TLS listener.
func TestTLSALPN01Validated(t *testing.T) {
	tlsLn := loopbackListener(t)
	p := startValidatingPebble(t, freePort(t), tlsLn.Addr().(*net.TCPAddr).Port)
	domain := "alpn-" + randomHex(t, 4) + ".acme.test"
	g := startGateway(t, gatewayOptions{dir: p.dir, domains: []string{domain}, disableHTTP01: true, tlsLn: tlsLn})
	if err := g.manager.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "a certificate validated over TLS-ALPN-01", func() bool {
		if g.count("cert_failed", domain) > 0 {
			t.Fatalf("the order failed: %v", g.events)
		}
		return served(t, g.tlsAddr, domain, p.roots) != nil
	})
}
