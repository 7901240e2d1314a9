//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package upstream

import (
	"errors"
	"syscall"
)

// headReader is not available here: the head is read as any other bytes.
type headReader struct{}

func (*headReader) readInto(syscall.RawConn, []byte) (int, *[directBlock]byte, error) {
	return 0, nil, errors.ErrUnsupported
}
