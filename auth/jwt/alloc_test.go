//go:build !race

package jwt

import (
	"testing"
	"time"

	"github.com/fastgate/gateway/auth"
	"github.com/fastgate/gateway/auth/jwt/jwttest"
)

// TestCachedVerifyAllocatesNothing holds the budget of the common case: a
// valid token repeated on a keep-alive connection.
func TestCachedVerifyAllocatesNothing(t *testing.T) {
	now := time.Now()
	rs := jwttest.RSA(0, "rsa")
	p := newProvider(t, Settings{Claims: []string{"sub"}, RequiredClaims: []ClaimRule{{Name: "sub"}}}, keysOf(rs))
	tok := []byte(rs.Sign(t, claimsAt(now)))
	if _, reason, err := p.Verify(tok, now); reason != auth.Allowed {
		t.Fatalf("Verify: %v (%v)", reason, err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, reason, _ := p.Verify(tok, now); reason != auth.Allowed {
			t.Fatal("refused")
		}
	})
	if allocs != 0 {
		t.Fatalf("a cached token costs %v allocations, want 0", allocs)
	}
}
