package discovery

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// watch and state file writer a Registry starts must be stopped by Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
