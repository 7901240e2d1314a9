// Package pebbletest runs, for one test, a Pebble (Let's Encrypt's test
// ACME server, github.com/letsencrypt/pebble/v2/cmd/pebble) that
// validates challenges for real: it resolves every name to 127.0.0.1
// through a DNS server of the test's own, fetches HTTP-01 answers from
// a port and makes TLS-ALPN-01 handshakes with another, both the test's
// choice. The shared Pebble that make test starts (scripts/services.sh)
// takes every challenge as valid instead; Shared finds it.
//
// A missing pebble binary skips the test, or fails it when
// REQUIRE_SERVICES is set (make test sets it).
package pebbletest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/fastgate/gateway/certs/certstest"
)

// Unavailable skips the test, or fails it when REQUIRE_SERVICES is set.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("REQUIRE_SERVICES") != "" {
		t.Fatal(msg + " (REQUIRE_SERVICES is set)")
	}
	t.Skip(msg + " (scripts/services.sh pebble installs it)")
}

// Binary finds pebble: $PEBBLE_BIN, then PATH, then $(go env GOPATH)/bin.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PEBBLE_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("pebble"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(filepath.SplitList(strings.TrimSpace(string(out)))[0], "bin", "pebble")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	Unavailable(t, "no pebble binary ($PEBBLE_BIN, PATH, $(go env GOPATH)/bin)")
	return ""
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Options say where Pebble validates.
type Options struct {
	// HTTPPort is the port on 127.0.0.1 Pebble fetches HTTP-01 answers
	// from (a gateway's plain listener). Zero: a port nothing listens
	// on, so that HTTP-01 fails.
	HTTPPort int
	// TLSPort is the port Pebble makes TLS-ALPN-01 handshakes with (a
	// gateway's HTTPS listener). Zero: a port nothing listens on, so
	// that TLS-ALPN-01 fails.
	TLSPort int
}

// Pebble is a running Pebble of the test's own, stopped when the test
// ends.
type Pebble struct {
	// Directory is the ACME directory URL (https://127.0.0.1:port/dir).
	Directory string
	// RootsFile is a PEM file of the CA of Pebble's own HTTPS endpoints:
	// what an ACME client must trust to talk to it (tls.acme.ca_roots_file).
	RootsFile string
	// Issuing holds the roots of the certificates Pebble issues.
	Issuing *x509.CertPool
}

// Start runs a Pebble that validates for real on the ports o names, and
// returns once it answers.
func Start(t testing.TB, o Options) *Pebble {
	t.Helper()
	bin := Binary(t)
	if o.HTTPPort == 0 {
		o.HTTPPort = FreePort(t)
	}
	if o.TLSPort == 0 {
		o.TLSPort = FreePort(t)
	}
	dir := t.TempDir()
	// Pebble's own HTTPS certificate, from a CA made here.
	ca := certstest.NewCA(t, "pebbletest CA")
	rootsFile := ca.WriteCA(t, dir, "pebble-ca.pem")
	certFile, keyFile := ca.Issue(t, certstest.LeafOptions{Names: []string{"localhost", "127.0.0.1"}}).Write(t, dir, "pebble")
	dns := startDNS(t)
	acmePort, mgmtPort := FreePort(t), FreePort(t)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", acmePort),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       o.HTTPPort,
		"tlsPort":                        o.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"keyAlgorithm":                   "ecdsa",
	}}
	data, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfgFile, "-strict=false", "-dnsserver", dns)
	// No random sleep before validating, no nonce refused at random, a
	// fresh authorization for every order.
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Log("pebble logs:\n" + logs.String())
		}
	})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		roots, err := get(client, fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmtPort))
		if err == nil {
			issuing := x509.NewCertPool()
			if !issuing.AppendCertsFromPEM(roots) {
				t.Fatal("pebbletest: pebble's roots hold no certificate")
			}
			return &Pebble{Directory: fmt.Sprintf("https://127.0.0.1:%d/dir", acmePort), RootsFile: rootsFile, Issuing: issuing}
		}
		select {
		case <-exited:
			t.Fatalf("pebbletest: pebble exited: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebbletest: pebble did not answer within 30s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(c *http.Client, url string) ([]byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// dnsListeners listens for UDP on a free loopback port and for TCP on the
// same port number. The port is free for UDP only: a TCP socket (a
// client's, on a busy machine) may hold the same number, so another port
// is tried then, a bounded number of times.
func dnsListeners(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	var err error
	for range 20 {
		var pc net.PacketConn
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			break
		}
		var ln net.Listener
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal(err)
	return nil, nil
}

// startDNS answers every A question with 127.0.0.1 and every other one
// with no record, over UDP and TCP (Pebble asks over TCP) on one
// loopback port, whose address it returns.
func startDNS(t testing.TB) string {
	t.Helper()
	pc, ln := dnsListeners(t)
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
				serveDNSConn(c)
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

// serveDNSConn answers the length-prefixed questions of one TCP
// connection until it ends.
func serveDNSConn(c net.Conn) {
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

type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
