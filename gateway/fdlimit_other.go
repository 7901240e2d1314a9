//go:build !unix

package gateway

// FileLimit reports no limit where the system has no RLIMIT_NOFILE.
func FileLimit() (soft, hard uint64, err error) { return 0, 0, nil }

// defaultConcurrency is fasthttp's default where no open-file limit is
// known.
func defaultConcurrency() int { return maxDefaultConcurrency }
