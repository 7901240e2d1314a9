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
// so no wake-up is lost, and it holds the block only during the read
// itself: a request waiting for its answer keeps no block.
type headReader struct {
	fn  func(fd uintptr) bool // read, bound once so that a read allocates nothing
	iov [2]syscall.Iovec
	blk *[directBlock]byte
	n   int
	err error
}

func (h *headReader) read(fd uintptr) bool {
	blk := directBufs.Get().(*[directBlock]byte)
	h.iov[1].Base = &blk[0]
	h.iov[1].SetLen(len(blk))
	for {
		n, _, errno := syscall.Syscall(syscall.SYS_READV, fd, uintptr(unsafe.Pointer(&h.iov[0])), uintptr(len(h.iov)))
		switch errno {
		case 0:
			h.n, h.err, h.blk = int(n), nil, blk
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			h.iov[1] = syscall.Iovec{}
			directBufs.Put(blk)
			return false // wait for readiness, then read again
		}
		h.iov[1] = syscall.Iovec{}
		directBufs.Put(blk)
		h.n, h.err = 0, errno
		return true
	}
}

// readInto reads into p and then a pooled block from rc, one system call
// when data is there. It returns the bytes read in all and the block,
// which the caller gives back to directBufs; nil when the read failed.
func (h *headReader) readInto(rc syscall.RawConn, p []byte) (int, *[directBlock]byte, error) {
	if h.fn == nil {
		h.fn = h.read
	}
	h.iov[0].Base = &p[0]
	h.iov[0].SetLen(len(p))
	err := rc.Read(h.fn)
	blk := h.blk
	h.iov, h.blk = [2]syscall.Iovec{}, nil // hold no buffer
	if err != nil {
		if blk != nil {
			directBufs.Put(blk)
		}
		return 0, nil, err
	}
	return h.n, blk, h.err
}
