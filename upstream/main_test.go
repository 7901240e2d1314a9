package upstream

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/goleak"

	"github.com/fastgate/gateway/internal/testwait"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp refreshes its Date header in a process-wide goroutine.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	)
}

// upstreamServer is a fasthttp.Server on loopback that counts connections.
type upstreamServer struct {
	addr  string
	conns atomic.Int64 // connections accepted
	srv   *fasthttp.Server
}

func startServer(t testing.TB, h fasthttp.RequestHandler) *upstreamServer {
	t.Helper()
	return startServerWith(t, &fasthttp.Server{Handler: h})
}

func startServerWith(t testing.TB, srv *fasthttp.Server) *upstreamServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstreamServer{addr: ln.Addr().String(), srv: srv}
	if srv.MaxIdleWorkerDuration == 0 {
		// fasthttp's worker cleaner notices Shutdown only after sleeping this.
		srv.MaxIdleWorkerDuration = 20 * time.Millisecond
	}
	srv.ConnState = func(_ net.Conn, st fasthttp.ConnState) {
		if st == fasthttp.StateNew {
			u.conns.Add(1)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.ShutdownWithContext(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		<-done
	})
	return u
}

// rawServer accepts connections and hands each to handle with its index
// (0-based). Cleanup closes the listener and all connections and waits.
type rawServer struct {
	addr  string
	conns atomic.Int64
}

func startRaw(t testing.TB, handle func(c net.Conn, i int)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{addr: ln.Addr().String()}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		open []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			i := int(s.conns.Add(1) - 1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				handle(c, i)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// startAnswering starts a raw upstream that reads one request on each
// connection, writes raw as its answer and closes its side for writing.
func startAnswering(t testing.TB, raw string) *rawServer {
	t.Helper()
	return startRaw(t, func(c net.Conn, _ int) {
		if _, ok := readRequest(bufioReader(c)); !ok {
			return
		}
		_, _ = io.WriteString(c, raw)
		closeWrite(c)
	})
}

// readRequest reads one request (with its body) from br; false at EOF or error.
func readRequest(br *bufio.Reader) (*fasthttp.Request, bool) {
	req := new(fasthttp.Request)
	if err := req.Read(br); err != nil {
		return nil, false
	}
	return req, true
}

// serveRaw answers every request on c with the bytes of resp.
func serveRaw(resp string) func(net.Conn, int) {
	return func(c net.Conn, _ int) {
		br := bufio.NewReader(c)
		for {
			if _, ok := readRequest(br); !ok {
				return
			}
			if _, err := io.WriteString(c, resp); err != nil {
				return
			}
		}
	}
}

func newClient(t testing.TB, s Settings) *Client {
	t.Helper()
	c, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newHostClient returns a fasthttp.HostClient that leaves no goroutine
// behind for long: it dials with net.Dial (fasthttp's default dialer keeps
// a process-wide goroutine) and its idle cleaner wakes up often.
func newHostClient(addr string) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                      addr,
		Dial:                      func(a string) (net.Conn, error) { return net.Dial("tcp", a) },
		MaxIdemponentCallAttempts: 1,
		MaxIdleConnDuration:       50 * time.Millisecond,
	}
}

func newGet(addr, path string) *fasthttp.Request {
	req := new(fasthttp.Request)
	req.SetRequestURI("http://" + addr + path)
	return req
}

func deadline(d time.Duration) time.Time { return time.Now().Add(d) }

// eventually waits until cond holds, for at most 5s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, 5*time.Second, what, cond)
}

// wantIdle waits until the client has no busy connection.
func wantNoBusy(t testing.TB, c *Client) {
	t.Helper()
	eventually(t, "no busy connections", func() bool { return c.Stats().Busy == 0 })
}

// The generated body repeats a table of a prime length, so that a body
// shifted by any number of bytes short of that does not match it.
const patternPeriod = 65521

var patternTable = func() []byte {
	b := make([]byte, 2*patternPeriod)
	x := uint32(2463534242)
	for i := range patternPeriod {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	copy(b[patternPeriod:], b[:patternPeriod])
	return b
}()

// patternAt returns up to n bytes of the pattern from offset off.
func patternAt(off int64, n int) []byte {
	i := int(off % patternPeriod)
	return patternTable[i : i+min(n, patternPeriod)]
}

// patternReader generates size bytes of the pattern.
type patternReader struct{ off, size int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.size-r.off)]
	n := 0
	for n < len(p) {
		n += copy(p[n:], patternAt(r.off+int64(n), len(p)-n))
	}
	r.off += int64(n)
	return n, nil
}

// patternChecker verifies that what is written is the pattern.
type patternChecker struct {
	off int64
	bad int64 // first bad offset + 1
}

func (w *patternChecker) Write(p []byte) (int, error) {
	for i := 0; i < len(p) && w.bad == 0; {
		want := patternAt(w.off+int64(i), len(p)-i)
		if !bytes.Equal(p[i:i+len(want)], want) {
			w.bad = w.off + int64(i) + 1
		}
		i += len(want)
	}
	w.off += int64(len(p))
	return len(p), nil
}

// pattern returns the first n bytes of the pattern.
func pattern(n int) []byte {
	b := make([]byte, n)
	_, _ = (&patternReader{size: int64(n)}).Read(b)
	return b
}

// chunky is a plain reader (no WriterTo) returning at most max bytes a call.
type chunky struct {
	r   io.Reader
	max int
}

func (c *chunky) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.max)]) }

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// closeWrite half-closes c, so the client reads EOF after what was sent,
// and waits (bounded) for the client to close its side; closing at once
// could turn into a reset.
func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.Copy(io.Discard, c)
}
