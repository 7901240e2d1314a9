//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package upstream

import (
	"syscall"
	"unsafe"
)

// headReader reads a response's first bytes with one readv into the
// connection's read buffer and, past it, a pooled block: a large answer's
// body comes in with its head instead of by a read of its own. It waits
// for readiness only after a read found nothing, as net.Conn.Read does,
// so no wake-up is lost.
type headReader struct {
	fn  func(fd uintptr) bool // read, bound once so that a read allocates nothing
	iov [2]syscall.Iovec
	n   int
	err error
}

func (h *headReader) read(fd uintptr) bool {
	for {
		n, _, errno := syscall.Syscall(syscall.SYS_READV, fd, uintptr(unsafe.Pointer(&h.iov[0])), uintptr(len(h.iov)))
		switch errno {
		case 0:
			h.n, h.err = int(n), nil
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for readiness, then read again
		}
		h.n, h.err = 0, errno
		return true
	}
}

// readInto reads into p and then blk from rc, at most one system call
// when data is there; it returns the bytes read in all.
func (h *headReader) readInto(rc syscall.RawConn, p, blk []byte) (int, error) {
	if h.fn == nil {
		h.fn = h.read
	}
	h.iov[0].Base, h.iov[1].Base = &p[0], &blk[0]
	h.iov[0].SetLen(len(p))
	h.iov[1].SetLen(len(blk))
	err := rc.Read(h.fn)
	h.iov = [2]syscall.Iovec{} // hold no buffer
	if err != nil {
		return 0, err
	}
	return h.n, h.err
}
