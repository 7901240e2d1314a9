package reloader

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: a
// Reloader's watcher must stop with Close or the end of Run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
