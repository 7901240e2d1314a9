package cache

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: the
// Tiered writer and the Redis clients of the tests must all stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
