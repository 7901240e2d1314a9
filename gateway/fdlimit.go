package gateway

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
