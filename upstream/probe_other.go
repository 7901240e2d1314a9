//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package upstream

import (
	"net"
	"syscall"
)

// probe is a no-op where a non-blocking peek is not available: idle
// connections are assumed alive and stale ones are found by the retry.
type probe struct{}

func (*probe) init(net.Conn)                     {}
func (*probe) reset()                            {}
func (*probe) alive() bool                       { return true }
func (*probe) readNow([]byte) (int, bool, error) { return 0, false, nil }
func (*probe) rawConn() syscall.RawConn          { return nil }
