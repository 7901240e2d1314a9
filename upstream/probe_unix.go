//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package upstream

import (
	"io"
	"net"
	"syscall"
)

// probe looks at a socket without blocking: it peeks at an idle one, which
// must have nothing to read (EOF means the upstream closed it; bytes mean
// it is out of step), and reads what a body has ready (readNow).
type probe struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) // bound once to the struct, so a check allocates nothing
	ok  bool
	buf [1]byte
	// readFn reads into rbuf, leaving the outcome in rn and rerr.
	readFn func(fd uintptr)
	rbuf   []byte
	rn     int
	rerr   error
}

func (p *probe) init(nc net.Conn) {
	p.rc = nil
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	p.rc = rc
	if p.fn == nil {
		p.fn = p.peek
		p.readFn = p.read
	}
}

func (p *probe) reset() { p.rc = nil }

// rawConn is the socket's RawConn, nil when there is none.
func (p *probe) rawConn() syscall.RawConn { return p.rc }

func (p *probe) peek(fd uintptr) {
	n, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	p.ok = n <= 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
}

func (p *probe) read(fd uintptr) {
	p.rn, p.rerr = syscall.Read(int(fd), p.rbuf)
}

// readNow reads into buf what the socket holds now, without blocking and
// without touching the poller's readiness state: n > 0 bytes read, or 0
// when nothing has arrived yet, or io.EOF when the peer closed with
// nothing left, or the error the read met. ok is false where the socket
// cannot be read this way (a TLS connection, another platform): the
// caller reads as usual.
func (p *probe) readNow(buf []byte) (n int, ok bool, err error) {
	if p.rc == nil || len(buf) == 0 {
		return 0, false, nil
	}
	p.rbuf = buf
	cerr := p.rc.Control(p.readFn)
	p.rbuf = nil
	switch {
	case cerr != nil:
		return 0, true, cerr
	case p.rerr == syscall.EAGAIN || p.rerr == syscall.EWOULDBLOCK || p.rerr == syscall.EINTR:
		return 0, true, nil
	case p.rerr != nil:
		return 0, true, p.rerr
	case p.rn == 0:
		return 0, true, io.EOF
	}
	return p.rn, true, nil
}

// alive reports false if the socket has been closed by the peer, has bytes
// to read, or has a pending error. RawConn.Control ignores deadlines.
func (p *probe) alive() bool {
	if p.rc == nil {
		return true
	}
	p.ok = false
	if err := p.rc.Control(p.fn); err != nil {
		return false
	}
	return p.ok
}
