package gateway

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/upstream"
)

// yieldConn is a plain TCP client connection whose first read after a
// write yields the processor first (runtime.Gosched), and which can hold
// an answer's head back to send it with the body's first bytes in one
// writev (hold, gatherAnswer).
//
// After the gateway has written an answer, fasthttp reads the client's
// next request at once, and the client has had no time to send it: the
// read finds nothing (EAGAIN) and costs a system call before the
// goroutine parks on the poller anyway. Yielding lets the other
// connections' goroutines run first, so the request is often there by
// the time the read is made, and one call reads it. Waiting on the poller
// without trying the read is not an option: Go's poller is edge-triggered
// and a request that arrived before the wait would never wake it.
//
// The flag is atomic because a tunnel (WebSocket) reads and writes the
// connection from two goroutines. Everything else, CloseWrite included,
// is the TCP connection's own.
type yieldConn struct {
	*net.TCPConn
	wrote atomic.Bool
	// holding: the next write is an answer's head, to be held back and
	// sent with the first bytes of its body (see hold). held is it, in
	// heldBuf, a pooled buffer; vec and bufs are the pieces of the write
	// that sends it. They belong to the goroutine serving requests.
	holding bool
	held    []byte
	heldBuf *[holdMax]byte
	vec     [3][]byte
	bufs    net.Buffers
}

// holdMax is the largest head held back: an answer's head, not
// pipelined answers before it.
const holdMax = 4 << 10

var heldBufs = sync.Pool{New: func() any { return new([holdMax]byte) }}

// yielding wraps c if it is a plain TCP connection; anything else (a TLS
// connection, a test's in-memory one) is returned as it is. The idle
// listener wraps what it accepts, so that the connection it hands fasthttp
// reads through the yield.
func yielding(c net.Conn) net.Conn {
	if tc, ok := c.(*net.TCPConn); ok {
		return &yieldConn{TCPConn: tc}
	}
	return c
}

func (c *yieldConn) Write(p []byte) (int, error) {
	if !c.wrote.Load() {
		c.wrote.Store(true)
	}
	if c.holding {
		c.holding = false
		if len(p) <= holdMax {
			c.heldBuf = heldBufs.Get().(*[holdMax]byte)
			c.held = c.heldBuf[:copy(c.heldBuf[:], p)]
			return len(p), nil
		}
	}
	if c.held != nil {
		c.vec[1] = p
		n, err := c.writeHeld(2)
		return int(n), err
	}
	return c.TCPConn.Write(p)
}

// hold makes the next write, an answer's head that fasthttp flushes on
// its own, wait for the body's first bytes (WriteBuffers) so that both
// leave in one system call. Whatever comes next takes it along: a write,
// or a read or close, which send it first.
func (c *yieldConn) hold() { c.holding = true }

// WriteBuffers writes bufs after the head held back, in one system call
// (writev) where the socket takes it all; it reports the bytes of bufs
// written.
func (c *yieldConn) WriteBuffers(bufs *net.Buffers) (int64, error) {
	c.holding = false
	if !c.wrote.Load() {
		c.wrote.Store(true)
	}
	if c.held == nil || len(*bufs) >= len(c.vec) {
		if err := c.sendHeld(); err != nil {
			return 0, err
		}
		return bufs.WriteTo(c.TCPConn)
	}
	return c.writeHeld(1 + copy(c.vec[1:], *bufs))
}

// writeHeld writes the held head and c.vec[1:n] in one system call
// (writev) where the socket takes it all, and reports the bytes written
// after the head.
func (c *yieldConn) writeHeld(n int) (int64, error) {
	head := int64(len(c.held))
	c.vec[0] = c.held
	c.bufs = c.vec[:n]
	w, err := c.bufs.WriteTo(c.TCPConn)
	c.vec = [len(c.vec)][]byte{} // keep no answer's bytes
	c.dropHeld()
	return max(w-head, 0), err
}

// sendHeld writes a head held back with nothing after it.
func (c *yieldConn) sendHeld() error {
	if c.held == nil {
		return nil
	}
	_, err := c.TCPConn.Write(c.held)
	c.dropHeld()
	return err
}

func (c *yieldConn) dropHeld() {
	heldBufs.Put(c.heldBuf)
	c.held, c.heldBuf = nil, nil
}

// Close sends a head still held back first. (A tunnel's two goroutines
// never hold one, so they only read the fields.)
func (c *yieldConn) Close() error {
	if c.holding || c.held != nil {
		c.holding = false
		_ = c.sendHeld()
	}
	return c.TCPConn.Close()
}

func (c *yieldConn) Read(p []byte) (int, error) {
	if c.holding || c.held != nil {
		c.holding = false
		if err := c.sendHeld(); err != nil {
			return 0, err
		}
	}
	if c.wrote.Load() {
		c.wrote.Store(false)
		runtime.Gosched()
	}
	return c.TCPConn.Read(p)
}

// isPlainTCP reports whether c is a TCP socket with nothing above it but
// the yield: reads can wait on its descriptor.
func isPlainTCP(c net.Conn) bool {
	switch c.(type) {
	case *net.TCPConn, *yieldConn:
		return true
	}
	return false
}

// gatherMin is the body size from which gatherAnswer arranges one write:
// below it the head and body fit in the server's write buffer and leave
// in one write anyway.
const gatherMin = serverWriteBuffer / 2

// gatherAnswer arranges for a large answer streamed from an upstream to
// a plain TCP client to leave with its head in one system call: fasthttp
// flushes the head on its own, the connection holds it back, and the
// body's first bytes (all that has arrived) are written after it with
// writev. Otherwise the head waits in fasthttp's write buffer, the body
// fills the rest of it by a copy, and what does not fit is a second
// write.
//
//go:noinline
func gatherAnswer(ctx *fasthttp.RequestCtx) {
	if ctx.Response.Header.ContentLength() < gatherMin {
		return
	}
	var yc *yieldConn
	switch c := ctx.Conn().(type) {
	case *idleConn:
		yc, _ = c.Conn.(*yieldConn)
	case *yieldConn:
		yc = c
	}
	if yc == nil || !upstream.WriteFirstTo(&ctx.Response, yc) {
		return
	}
	ctx.Response.ImmediateHeaderFlush = true
	yc.hold()
}
