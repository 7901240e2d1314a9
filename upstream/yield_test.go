package upstream

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// answeredConn is a connection whose answer is there before the request
// is written: reading it never waits, so a goroutine started before the
// read runs first only if the reader yields. It notes whether ran was set
// when the first read came.
type answeredConn struct {
	net.Conn // nil: only what conn uses is implemented
	answer   []byte
	ran      *atomic.Bool
	reads    int
	sawRan   bool
	sent     bytes.Buffer
}

func (c *answeredConn) Read(p []byte) (int, error) {
	if c.reads++; c.reads == 1 {
		c.sawRan = c.ran.Load()
	}
	if len(c.answer) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.answer)
	c.answer = c.answer[n:]
	return n, nil
}

func (c *answeredConn) Write(p []byte) (int, error)      { return c.sent.Write(p) }
func (c *answeredConn) Close() error                     { return nil }
func (c *answeredConn) SetReadDeadline(time.Time) error  { return nil }
func (c *answeredConn) SetWriteDeadline(time.Time) error { return nil }
func (c *answeredConn) SetDeadline(time.Time) error      { return nil }
func (c *answeredConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *answeredConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }

// TestYieldBeforeAnswer: after writing a request the client gives the
// processor up once before it reads the answer, so that the read is less
// often made before the answer arrived (one system call saved, EAGAIN).
// With one processor a goroutine started just before runs next only when
// the current one yields; the answer is there already, so the read itself
// never parks.
func TestYieldBeforeAnswer(t *testing.T) {
	c := newClient(t, Settings{Addr: "127.0.0.1:1"})
	var ran atomic.Bool
	nc := &answeredConn{answer: []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), ran: &ran}
	c.mu.Lock()
	c.open++ // the slot finish gives back
	c.mu.Unlock()
	pc := c.newConn(nc, nc)
	req := newGet("127.0.0.1:1", "/")
	var resp fasthttp.Response

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	done := make(chan struct{})
	go func() { ran.Store(true); close(done) }()
	_, err := c.roundTrip(pc, req, &resp, time.Now(), time.Now().Add(10*time.Second), true, true)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body()) != "ok" || !bytes.HasPrefix(nc.sent.Bytes(), []byte("GET / HTTP/1.1\r\n")) {
		t.Fatalf("sent %q, got %q", nc.sent.Bytes(), resp.Body())
	}
	if !nc.sawRan {
		t.Error("the answer was read before yielding")
	}
}
