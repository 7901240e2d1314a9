//go:build !race

package basic

import (
	"testing"
	"time"

	"github.com/fastgate/gateway/auth"
)

// TestCachedCredentialAllocatesNothing also shows that bcrypt (which
// allocates) does not run for a credential verified before.
func TestCachedCredentialAllocatesNothing(t *testing.T) {
	now := time.Now()
	c := newChecker(t, Settings{Users: []User{{Name: "alice", Hash: hash(t, "secret")}}})
	h := header("alice", "secret")
	if _, reason := c.CheckAuthorization(h, now); reason != auth.Allowed {
		t.Fatal("refused")
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, reason := c.CheckAuthorization(h, now); reason != auth.Allowed {
			t.Fatal("refused")
		}
	})
	if allocs != 0 {
		t.Fatalf("a cached credential costs %v allocations, want 0", allocs)
	}
}
