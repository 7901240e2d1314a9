package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/certs/certstest"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/metrics"
	"github.com/fastgate/gateway/reloader"
)

// certWriter renews a certificate pair on disk the way a tool in
// production does; files are the cert_file and key_file the
// configuration names, relative to its directory.
type certWriter interface {
	files() (cert, key string)
	write(t testing.TB, l *certstest.Leaf)
}

// secretVolume writes the pair as a Kubernetes Secret volume holds it
// (cert-manager's Secret mounted in a pod): tls.crt and tls.key are
// symlinks through "..data" into a directory of the version; a renewal
// writes a new version directory, points a new link at it, renames that
// link over "..data" and removes the old version (the kubelet's
// AtomicWriter).
type secretVolume struct {
	dir     string // the volume
	version int
}

func (v *secretVolume) files() (string, string) { return "secret/tls.crt", "secret/tls.key" }

func (v *secretVolume) write(t testing.TB, l *certstest.Leaf) {
	t.Helper()
	v.version++
	name := fmt.Sprintf("..2026_12_07_10_00_00.%09d", v.version)
	if err := os.MkdirAll(filepath.Join(v.dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	for file, data := range map[string][]byte{"tls.crt": l.CertPEM, "tls.key": l.KeyPEM} {
		if err := os.WriteFile(filepath.Join(v.dir, name, file), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := os.Readlink(filepath.Join(v.dir, "..data"))
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(name, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"tls.crt", "tls.key"} {
		link := filepath.Join(v.dir, file)
		if _, err := os.Lstat(link); errors.Is(err, os.ErrNotExist) {
			if err := os.Symlink(filepath.Join("..data", file), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(v.dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

// renamedFiles writes each file anew and renames it over the old one,
// the key first (as certbot's deploy hooks and cert-manager's CSI driver
// do): a reload between the two renames sees a key that does not match
// its certificate and is refused, the old pair serving on.
type renamedFiles struct{ dir string }

func (r renamedFiles) files() (string, string) { return "a.crt", "a.key" }

func (r renamedFiles) write(t testing.TB, l *certstest.Leaf) {
	t.Helper()
	writeAtomic(t, filepath.Join(r.dir, "a.key"), l.KeyPEM)
	writeAtomic(t, filepath.Join(r.dir, "a.crt"), l.CertPEM)
}

// TestTLSRotationUnderLoad renews the certificate files of a gateway's
// configuration 50 times under a load of 200 keep-alive clients and
// clients that make a new connection, with a full handshake, for each
// request. The gateway's own reloader, following the files, picks every
// renewal up. No request and no handshake fails; the keep-alive clients
// keep the connection and certificate they started with; after each
// renewal new handshakes get the new certificate.
//
// The load goes in rounds, one per renewal: every keep-alive client
// sends a request on its connection, and every other client makes a new
// connection (a second one if the gateway does not serve the new
// certificate yet), while the files are written. Bounded so, 50 renewals
// take seconds, not the minutes an unbounded load on two shared cores
// makes of them under the race detector.
func TestTLSRotationUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load of 200 clients")
	}
	for _, tt := range []struct {
		desc string
		give func(dir string) certWriter
	}{
		{desc: "Kubernetes Secret volume, ..data swapped", give: func(dir string) certWriter {
			return &secretVolume{dir: filepath.Join(dir, "secret")}
		}},
		{desc: "files renamed over, key first", give: func(dir string) certWriter { return renamedFiles{dir} }},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			dir := t.TempDir()
			testRotationUnderLoad(t, dir, tt.give(dir))
		})
	}
}

// testRotationUnderLoad serves the certificates w writes, from a
// configuration in dir.
func testRotationUnderLoad(t *testing.T, dir string, w certWriter) {
	const (
		keepAlive  = 200 // clients on one connection each
		handshaker = 4   // clients on a new connection per request
		swaps      = 50
		perRound   = 2 // requests of a new-connection client in a round, at most
		name       = "a.example.com"
	)
	ca := certstest.NewCA(t, "test CA")
	first := ca.Issue(t, certstest.LeafOptions{Names: []string{name}})
	w.write(t, first)
	certFile, keyFile := w.files()
	g := startTLSGateway(t, dir, ca, tlsYAML("    - { cert_file: "+certFile+", key_file: "+keyFile+" }\n", "", helloRoute), Options{Logger: silentLog()})
	follow(t, g)

	clients := make([]*rawHTTPS, keepAlive)
	for i := range clients {
		clients[i] = dialRaw(t, g.tlsAddr, ca.Pool(), name)
		if !clients[i].leaf.Equal(first.Cert) {
			t.Fatal("a client was served another certificate than the first")
		}
	}
	var (
		mu       sync.Mutex
		failures []error
		requests atomic.Int64
		newConns atomic.Int64
		seen     = map[string]bool{} // serial numbers new connections got
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, err)
		}
	}
	last := first
	for i := range swaps {
		next := ca.Issue(t, certstest.LeafOptions{Names: []string{name}})
		var (
			wg   sync.WaitGroup
			over atomic.Bool // the gateway serves next
		)
		for _, c := range clients {
			wg.Go(func() {
				if err := c.get(); err != nil {
					fail(fmt.Errorf("renewal %d: keep-alive request: %w", i, err))
					return
				}
				requests.Add(1)
			})
		}
		for range handshaker {
			wg.Go(func() {
				for n := 0; n < perRound && (n == 0 || !over.Load()); n++ {
					c, err := dialRawOnce(g.tlsAddr, ca.Pool(), name)
					if err == nil {
						err = c.get()
						c.close()
					}
					if err != nil {
						fail(fmt.Errorf("renewal %d: request on a new connection: %w", i, err))
						return
					}
					newConns.Add(1)
					mu.Lock()
					seen[c.leaf.SerialNumber.String()] = true
					mu.Unlock()
				}
			})
		}
		w.write(t, next)
		err := waitServed(t, g, name, next.Cert)
		over.Store(true)
		wg.Wait()
		if err != nil {
			t.Fatalf("renewal %d: %v", i, err)
		}
		last = next
		if len(failures) > 0 {
			break
		}
	}
	for _, err := range failures {
		t.Error(err)
	}
	for _, c := range clients {
		if err := c.get(); err != nil {
			t.Errorf("a keep-alive connection after the renewals: %v", err)
			break
		}
		c.close()
	}
	if got, err := g.servedCert(t, name); err != nil || !got.Equal(last.Cert) {
		t.Errorf("after %d renewals a new handshake got %v (err %v), want the last certificate", swaps, got, err)
	}
	for _, r := range []string{metrics.HandshakeTimeout, metrics.HandshakeClosed, metrics.HandshakeNotTLS,
		metrics.HandshakeUnknownName, metrics.HandshakeClientCertificate, metrics.HandshakeAlert, metrics.HandshakeOther} {
		if v := g.metric(t, `gateway_tls_handshakes_total{result="`+r+`"}`); v != 0 {
			t.Errorf("gateway_tls_handshakes_total{result=%q} = %v, want 0", r, v)
		}
	}
	t.Logf("%d keep-alive requests, %d on new connections (%d certificates seen), across %d renewals",
		requests.Load(), newConns.Load(), len(seen), swaps)
}

// rawHTTPS is one client connection, verified against a pool, that
// sends GET /hello and reads the answer. A request on a connection the
// gateway closed fails: nothing retries it.
type rawHTTPS struct {
	conn *tls.Conn
	br   *bufio.Reader
	leaf *x509.Certificate // what the handshake got
	req  []byte
	resp fasthttp.Response
}

func dialRawOnce(addr string, pool *x509.CertPool, name string) (*rawHTTPS, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: name, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return nil, err
	}
	return &rawHTTPS{
		conn: conn, br: bufio.NewReader(conn),
		leaf: conn.ConnectionState().PeerCertificates[0],
		req:  []byte("GET /hello HTTP/1.1\r\nHost: " + name + "\r\n\r\n"),
	}, nil
}

func dialRaw(t testing.TB, addr string, pool *x509.CertPool, name string) *rawHTTPS {
	t.Helper()
	c, err := dialRawOnce(addr, pool, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

func (c *rawHTTPS) get() error {
	if err := c.conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	if _, err := c.conn.Write(c.req); err != nil {
		return err
	}
	if err := c.resp.Read(c.br); err != nil {
		return err
	}
	if c.resp.StatusCode() != http.StatusOK || string(c.resp.Body()) != "hello\n" {
		return fmt.Errorf("%d %q", c.resp.StatusCode(), c.resp.Body())
	}
	return nil
}

func (c *rawHTTPS) close() { _ = c.conn.Close() }

// follow starts a reloader following g's configuration file and the
// files it names, as the gateway command does, until the test ends.
func follow(t testing.TB, g *tlsGateway) {
	t.Helper()
	r, err := reloader.New(reloader.Settings[ReloadResult]{
		Config: g.Config(), Target: g.ReloadTarget(), Checks: []config.Check{RouteConflicts},
		Logger: silentLog(), Debounce: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitServed waits, for at most 5 seconds, until a new handshake gets
// want; a handshake that fails ends the wait with its error.
func waitServed(t testing.TB, g *tlsGateway, name string, want *x509.Certificate) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := g.servedCert(t, name)
		if err != nil {
			return fmt.Errorf("a handshake failed: %w", err)
		}
		if got.Equal(want) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("new handshakes still got the old certificate after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
