// Package testwait waits in tests for a condition that another goroutine,
// a server or a watch makes true, bounded in time.
package testwait

import (
	"testing"
	"time"
)

// Until calls cond until it holds, and fails t with what it waited for
// once limit has passed. It polls at 1 ms at first, backing off to 20 ms,
// so that a condition met at once is seen at once and a long wait does
// not keep a core busy with checks.
func Until(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(limit)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("not within %v: %s", limit, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
}
