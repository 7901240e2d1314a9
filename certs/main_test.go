package certs_test

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/certs/certstest"
	"github.com/fastgate/gateway/internal/testwait"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp refreshes its Date header in a process-wide goroutine.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	)
}

// lineServer serves a certs.Listener on loopback: for each line a client
// sends it answers "ok\n", on the same connection until the client closes.
type lineServer struct {
	addr string
	ln   *certs.Listener
	// handshakes counts finished handshakes, failures those that failed.
	handshakes atomic.Int64
	failures   atomic.Int64
	lastErr    atomic.Pointer[error] // error of the last failed handshake
}

func startLineServer(t testing.TB, cfg *tls.Config, s certs.ListenerSettings) *lineServer {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &lineServer{addr: inner.Addr().String()}
	user := s.OnHandshake
	s.OnHandshake = func(st *tls.ConnectionState, err error) {
		if err != nil {
			srv.lastErr.Store(&err)
			srv.failures.Add(1)
		} else {
			srv.handshakes.Add(1)
		}
		if user != nil {
			user(st, err)
		}
	}
	srv.ln = certs.NewListener(inner, cfg, s)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		open = map[net.Conn]struct{}{}
	)
	wg.Go(func() {
		for {
			c, err := srv.ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					c.Close()
					mu.Lock()
					delete(open, c)
					mu.Unlock()
				}()
				br := bufio.NewReader(c)
				for {
					if _, err := br.ReadString('\n'); err != nil {
						return
					}
					if _, err := c.Write([]byte("ok\n")); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		srv.ln.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return srv
}

// dial connects with a TLS client and completes one line exchange, so
// that TLS 1.3 session tickets sent after the handshake have arrived.
func dial(t testing.TB, addr string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	if err := roundTrip(c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// roundTrip sends one line and reads the answer, within 10 seconds.
func roundTrip(c *tls.Conn) error {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	var buf [3]byte
	_, err := readFull(c, buf[:])
	return err
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// clientConfig trusts ca and names serverName.
func clientConfig(ca *certstest.CA, serverName string) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), ServerName: serverName}
}

// pair issues a leaf for names and loads it through LoadPair.
func pair(t testing.TB, ca *certstest.CA, names ...string) *certs.Pair {
	t.Helper()
	leaf := ca.Issue(t, certstest.LeafOptions{Names: names})
	certFile, keyFile := leaf.Write(t, t.TempDir(), "leaf")
	p, err := certs.LoadPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newSet(t testing.TB, o certs.SetOptions, pairs ...*certs.Pair) *certs.Set {
	t.Helper()
	s, err := certs.NewSet(pairs, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func serverConfig(t testing.TB, store *certs.Store, s certs.ServerSettings) *tls.Config {
	t.Helper()
	cfg, err := certs.ServerConfig(store, s)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// eventually waits until cond holds, for at most 10 seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, 10*time.Second, what, cond)
}
