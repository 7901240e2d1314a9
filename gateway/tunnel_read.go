package gateway

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// pumpReader reads one side of a tunnel into buffers of the route's pool
// (websocket.buffer_size). On a socket it waits for bytes with no buffer
// (through its RawConn) and takes one only to read what came, so that an
// idle tunnel holds none; on any other connection (TLS) a buffer is held
// while it waits. Not safe for concurrent use: one per pump.
type pumpReader struct {
	c net.Conn
	// early is what was read of the connection before the tunnel began
	// (behind the upgrade request or its answer); read returns it first.
	early []byte
	rc    syscall.RawConn // nil: not a socket
	bufs  *sync.Pool
	// What the last readiness callback read.
	bp       *[]byte
	n        int
	rerr     error
	readable func(fd uintptr) bool
}

func newPumpReader(c net.Conn, bufs *sync.Pool, early []byte) *pumpReader {
	r := &pumpReader{c: c, bufs: bufs, early: early}
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			r.rc = rc
			r.readable = r.onReadable
		}
	}
	return r
}

// take returns a buffer from the pool.
func (r *pumpReader) take() *[]byte { return r.bufs.Get().(*[]byte) }

// done gives back a buffer read or take returned (nil is allowed).
func (r *pumpReader) done(bp *[]byte) {
	if bp != nil {
		r.bufs.Put(bp)
	}
}

// read returns the next bytes the connection has (what was read early
// first), in a buffer to give back with done (nil when n is 0), or an
// error: the connection's read deadline passed (a net.Error that times
// out), it ended (io.EOF) or failed.
func (r *pumpReader) read() (*[]byte, int, error) {
	if len(r.early) > 0 {
		bp := r.take()
		n := copy(*bp, r.early)
		if r.early = r.early[n:]; len(r.early) == 0 {
			r.early = nil
		}
		return bp, n, nil
	}
	if r.rc == nil {
		bp := r.take()
		n, err := r.c.Read(*bp)
		return bp, n, err
	}
	r.bp, r.n, r.rerr = nil, 0, nil
	if err := r.rc.Read(r.readable); err != nil {
		r.done(r.bp)
		return nil, 0, err
	}
	bp, n := r.bp, r.n
	r.bp = nil
	switch {
	case r.rerr != nil:
		r.done(bp)
		return nil, 0, os.NewSyscallError("read", r.rerr)
	case n == 0:
		r.done(bp)
		return nil, 0, io.EOF
	}
	return bp, n, nil
}

// onReadable reads the socket into a buffer taken for the read, or asks
// to wait for it to be readable when it has nothing (EAGAIN); the read
// comes first, so a wake-up is never lost.
func (r *pumpReader) onReadable(fd uintptr) bool {
	bp := r.take()
	n, err := syscall.Read(int(fd), *bp)
	for err == syscall.EINTR {
		n, err = syscall.Read(int(fd), *bp)
	}
	if err == syscall.EAGAIN {
		r.done(bp)
		return false
	}
	r.bp, r.n, r.rerr = bp, n, err
	return true
}
