//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package upstream

import (
	"net"
	"syscall"
)

// probe peeks at an idle connection's socket without blocking or reading:
// an idle keep-alive connection must have nothing to read. EOF means the
// upstream closed it; bytes mean it is out of step.
type probe struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) // bound once to the struct, so a check allocates nothing
	ok  bool
	buf [1]byte
	// gone and goneFn: whether the peer closed or reset the socket,
	// whatever is still buffered in it.
	goneFn func(fd uintptr)
	gone   bool
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
		p.goneFn = p.peekGone
	}
}

func (p *probe) reset() { p.rc = nil }

func (p *probe) peek(fd uintptr) {
	n, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	p.ok = n <= 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
}

// peekGone notes whether the socket has nothing to read but its end: EOF
// with an empty receive queue, or a reset.
func (p *probe) peekGone(fd uintptr) {
	n, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	p.gone = (n == 0 && err == nil) || err == syscall.ECONNRESET
}

// closed reports true when the peer has closed or reset the socket and
// nothing of it is left to read from the kernel. It never blocks.
func (p *probe) closed() bool {
	if p.rc == nil {
		return false
	}
	p.gone = false
	if err := p.rc.Control(p.goneFn); err != nil {
		return false
	}
	return p.gone
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
