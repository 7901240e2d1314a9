package compress

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind (a
// zstd encoder with goroutines of its own would).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
