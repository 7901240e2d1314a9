//go:build unix

package gateway

import (
	"errors"
	"syscall"
)

// FileLimit raises the soft limit on open files (RLIMIT_NOFILE) to the hard
// limit, as far as the system lets it, and returns the limits in force
// after. Go does the same at start since 1.19; this makes the limit known
// and the default concurrency follow it.
func FileLimit() (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, errors.New("gateway: read the open-file limit: " + err.Error())
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			lim = raised
		}
	}
	return uint64(lim.Cur), uint64(lim.Max), nil
}

// defaultConcurrency is concurrencyFor the soft open-file limit in force.
func defaultConcurrency() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return maxDefaultConcurrency
	}
	return concurrencyFor(uint64(lim.Cur))
}
