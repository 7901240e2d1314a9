package gateway

import (
	"net"
	"runtime"
	"sync/atomic"
)

// yieldConn is a plain TCP client connection whose first read after a
// write yields the processor first (runtime.Gosched).
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
}

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
	return c.TCPConn.Write(p)
}

func (c *yieldConn) Read(p []byte) (int, error) {
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
