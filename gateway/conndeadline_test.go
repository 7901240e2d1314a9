package gateway

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/internal/deadlines"
)

// armCounts counts the deadlines that reach the sockets under an idle
// listener.
type armCounts struct{ read, write atomic.Int64 }

type armCountingListener struct {
	net.Listener
	n *armCounts
}

func (l armCountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &armCountingConn{Conn: c, n: l.n}, nil
}

type armCountingConn struct {
	net.Conn
	n *armCounts
}

func (c *armCountingConn) SetReadDeadline(t time.Time) error {
	c.n.read.Add(1)
	return c.Conn.SetReadDeadline(t)
}

func (c *armCountingConn) SetWriteDeadline(t time.Time) error {
	c.n.write.Add(1)
	return c.Conn.SetWriteDeadline(t)
}

// TestClientDeadlinesArmedLazily: requests back to back on a keep-alive
// connection arm a deadline on its socket now and then, not the three
// fasthttp sets for each request.
func TestClientDeadlinesArmedLazily(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{
		Handler:      func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") },
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
		IdleTimeout:  10 * time.Second,
		// As the gateway's server (gateway.go): with request bodies
		// streamed, fasthttp keeps the read buffer between requests and
		// reads each next request whole with its first bytes.
		ReduceMemoryUsage: true,
		StreamRequestBody: true,
		ConnState:         connState,
		// So that the worker cleaner notices Shutdown at once (TestMain).
		MaxIdleWorkerDuration: 20 * time.Millisecond,
	}
	var n armCounts
	il := newIdleListener(armCountingListener{ln, &n}, srv, slog.New(slog.DiscardHandler), 0, 0)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(il) }()
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	const requests = 200
	start := time.Now()
	for i := 0; i < requests; i++ {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if code, body := readAnswer(t, br); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	// fasthttp asked for 3 per request (2 read, 1 write). The wait for
	// the next request is armed again once restAfter/2 has passed since
	// it was, a write deadline once 1/64 of write_timeout has: a few times
	// in this test, and never more than time allows however slow the
	// machine.
	took := time.Since(start)
	maxRead := int64(took/(restAfter/2)) + 2
	maxWrite := int64(took/(srv.WriteTimeout/deadlines.Slack)) + 2
	if r, w := n.read.Load(), n.write.Load(); r > maxRead || w > maxWrite {
		t.Errorf("%d requests in %v armed %d read and %d write deadlines, want at most %d and %d",
			requests, took, r, w, maxRead, maxWrite)
	}
}

// TestClientDeadlinesStillBound: with the deadlines armed lazily, a
// keep-alive connection's next request may still take up to
// server.read_timeout to arrive whole once it began, and not longer.
func TestClientDeadlinesStillBound(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(string(ctx.Path())) })
	gw := startGateway(t, `
server: { read_timeout: 2s, idle_timeout: 10s }
routes:
  - { name: any, match: { path_prefix: / }, upstream: { targets: ["{UP1}"] } }
`, up)
	c, err := net.Dial("tcp", gw.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := newRawConn(t, c)
	send, expect := rc.send, rc.expect
	send("GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
	expect("/first")

	// The next head pauses longer than a connection waits in fasthttp
	// before it parks (restAfter), well within read_timeout.
	send("GET /paused HTTP/1.1\r\nHo")
	time.Sleep(3 * restAfter)
	send("st: a\r\n\r\n")
	expect("/paused")

	// A head that stops coming is cut after read_timeout.
	start := time.Now()
	send("GET /stalled HTTP/1.1\r\nHo")
	rest, err := io.ReadAll(rc.br)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("stalled head: connection still open after %v", time.Since(start))
		}
	}
	if len(rest) > 0 && !strings.HasPrefix(string(rest), "HTTP/1.1 408") {
		t.Errorf("stalled head answered %.60q, want 408 or nothing", rest)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("stalled head cut after %v, before read_timeout (2s) less its slack", took)
	}
}
