package gateway

import (
	"errors"
	"syscall"
)

// Sizing of the default server.concurrency from the open-file limit.
const (
	// fdReserve are descriptors kept for listeners, registries, brokers,
	// Redis, log and state files.
	fdReserve = 128
	// maxDefaultConcurrency is fasthttp's own default, the most the
	// gateway takes without being told.
	maxDefaultConcurrency = 256 << 10
	minDefaultConcurrency = 64
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

// concurrencyFor is the default server.concurrency (client connections at
// once, idle keep-alive ones included) for a process allowed nofile open
// files: a quarter of them, less a fixed reserve, stays for upstream
// connections (each request in flight holds one) and files, so that
// clients meet a 503 from the gateway before the process runs out of
// descriptors. Bounded to 64..256Ki.
func concurrencyFor(nofile uint64) int {
	if nofile <= fdReserve {
		return minDefaultConcurrency
	}
	n := (nofile - fdReserve) / 4 * 3
	switch {
	case n < minDefaultConcurrency:
		return minDefaultConcurrency
	case n > maxDefaultConcurrency:
		return maxDefaultConcurrency
	}
	return int(n)
}

// defaultConcurrency is concurrencyFor the soft open-file limit in force.
func defaultConcurrency() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return maxDefaultConcurrency
	}
	return concurrencyFor(uint64(lim.Cur))
}
