//go:build !race

package iplist

import (
	"net/netip"
	"testing"
)

func TestAllowedAllocatesNothing(t *testing.T) {
	a, err := NewAccess([]string{"10.0.0.0/8", "2001:db8::/32"}, []string{"10.9.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	v4, v6 := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("2001:db8::1")
	allocs := testing.AllocsPerRun(1000, func() {
		if !a.Allowed(v4) || !a.Allowed(v6) {
			t.Fatal("refused")
		}
	})
	if allocs != 0 {
		t.Fatalf("Allowed costs %v allocations, want 0", allocs)
	}
}
