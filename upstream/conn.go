package upstream

import (
	"bufio"
	"errors"
	"io"
	"net"
	"runtime"
	"time"

	"github.com/fastgate/gateway/internal/deadlines"
)

// conn is one pooled connection with its buffers. It is owned by one
// goroutine at a time: the pool's, a Do call's, or a streamed body's.
type conn struct {
	c  *Client
	nc net.Conn
	br *bufio.Reader // reads through conn.Read; sized MaxResponseHeaderBytes
	bw *bufio.Writer // writes through conn.Write

	lastUsed time.Time // when it was last released to the pool
	reused   bool      // taken from the idle pool for this request

	rdl, wdl time.Time // deadlines armed on nc
	reqDL    time.Time // the request's deadline, bounding writes
	wnow     time.Time // the time for the first write of a request; zero after it
	written  int       // bytes of the current request written to nc
	werr     error     // first error nc.Write returned for the current request
	noIO     bool      // set while fasthttp parses a head already buffered
	sent     bool      // a request was just written: yield before the next read

	probe probe // liveness check for idle connections

	// plain: nc is the socket itself (no TLS), so the first read of a
	// response may be a readv (head) that takes the body's first bytes
	// into a pooled block past br's buffer. over holds those not yet
	// read through br, in overBuf: br reads them before the socket's, and
	// a streamed body takes them over.
	plain   bool
	head    headReader
	over    []byte
	overBuf *[directBlock]byte
}

// errNoIO makes a read fail while fasthttp parses a complete, buffered head,
// so that a parser wanting more never blocks on the network.
var errNoIO = errors.New("upstream: head parser asked for more than the buffered head")

// newConn wraps nc in a recycled or new conn; raw is the socket under
// it (nc itself without TLS), for the liveness probe.
func (c *Client) newConn(nc, raw net.Conn) *conn {
	pc, _ := c.conns.Get().(*conn)
	if pc == nil {
		pc = &conn{c: c}
		pc.br = bufio.NewReaderSize(pc, c.s.MaxResponseHeaderBytes)
		pc.bw = bufio.NewWriterSize(pc, writeBufferSize)
	}
	pc.nc = nc
	pc.probe.init(raw)
	pc.plain = nc == raw
	return pc
}

// dropOver gives the block of bytes read past br back to its pool.
func (pc *conn) dropOver() {
	if pc.overBuf != nil {
		directBufs.Put(pc.overBuf)
		pc.over, pc.overBuf = nil, nil
	}
}

// closeNet closes pc's network connection and gives the struct back for
// reuse by newConn. pc must not be used afterwards.
func (pc *conn) closeNet() {
	_ = pc.nc.Close()
	pc.nc = nil
	pc.probe.reset()
	pc.br.Reset(pc)
	pc.bw.Reset(pc)
	pc.lastUsed, pc.rdl, pc.wdl, pc.reqDL, pc.wnow = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	pc.reused, pc.noIO, pc.sent, pc.written, pc.werr = false, false, false, 0, nil
	pc.dropOver()
	pc.c.conns.Put(pc)
}

// Read lets br read from the network unless a parse is in progress.
//
// The first read after a request was written yields the processor first
// (runtime.Gosched): the upstream has had no time to answer, so reading
// at once nearly always finds nothing (EAGAIN) and costs a system call
// before the goroutine parks on the poller anyway. Other goroutines run
// meanwhile, and by the time this one is scheduled again the answer is
// often there, read by one call. Waiting on the poller without trying the
// read first is not an option: Go's poller is edge-triggered and an answer
// that arrived before the wait would never wake it.
func (pc *conn) Read(p []byte) (int, error) {
	if pc.noIO {
		return 0, errNoIO
	}
	if len(pc.over) > 0 {
		n := copy(p, pc.over)
		pc.over = pc.over[n:]
		if len(pc.over) == 0 {
			pc.dropOver()
		}
		return n, nil
	}
	if pc.sent {
		pc.sent = false
		runtime.Gosched()
		if pc.plain && len(p) > 0 && pc.c.large.Load() {
			return pc.readFirst(p)
		}
	}
	return pc.nc.Read(p)
}

// readFirst is the first read of a response on a plain connection to an
// upstream whose last answer was large: one readv into p (br's buffer)
// and a pooled block after it, so that the body mostly comes in with its
// head. What lands in the block waits in over.
func (pc *conn) readFirst(p []byte) (int, error) {
	rc := pc.probe.rawConn()
	if rc == nil {
		return pc.nc.Read(p)
	}
	n, blk, err := pc.head.readInto(rc, p)
	switch {
	case err != nil:
		if blk != nil {
			directBufs.Put(blk)
		}
		return 0, err
	case n == 0:
		directBufs.Put(blk)
		return 0, io.EOF
	case n <= len(p):
		directBufs.Put(blk)
		return n, nil
	}
	pc.over, pc.overBuf = blk[:n-len(p)], blk
	return len(p), nil
}

// beginWrite prepares pc for writing a new request.
func (pc *conn) beginWrite(now, deadline time.Time) {
	pc.wnow = now
	pc.reqDL = deadline
	pc.written = 0
	pc.werr = nil
}

// Write lets bw write to the network, arming the write deadline for each
// write: WriteTimeout from now, or the request's deadline if sooner.
func (pc *conn) Write(p []byte) (int, error) {
	now := pc.wnow
	if now.IsZero() {
		now = time.Now()
	} else {
		pc.wnow = time.Time{}
	}
	dl := now.Add(pc.c.s.WriteTimeout)
	if !pc.reqDL.IsZero() && pc.reqDL.Before(dl) {
		dl = pc.reqDL
	}
	if deadlines.Rearm(pc.wdl, dl, now) {
		if err := pc.nc.SetWriteDeadline(dl); err != nil {
			pc.werr = err
			return 0, err
		}
		pc.wdl = dl
	}
	n, err := pc.nc.Write(p)
	pc.written += n
	if err != nil && pc.werr == nil {
		pc.werr = err
	}
	return n, err
}

// setReadDeadline arms dl unless a deadline close enough below it is
// armed already (see deadlines.Rearm).
func (pc *conn) setReadDeadline(dl, now time.Time) error {
	if !deadlines.Rearm(pc.rdl, dl, now) {
		return nil
	}
	if err := pc.nc.SetReadDeadline(dl); err != nil {
		return err
	}
	pc.rdl = dl
	return nil
}

// alive reports whether an idle pc still looks usable: nothing buffered,
// and, where the platform allows a non-blocking peek, not closed by the
// upstream and with no unexpected bytes waiting.
func (pc *conn) alive() bool {
	return pc.br.Buffered() == 0 && len(pc.over) == 0 && pc.probe.alive()
}
