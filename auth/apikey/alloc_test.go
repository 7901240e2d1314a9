//go:build !race

package apikey

import "testing"

func TestLookupAllocatesNothing(t *testing.T) {
	s, err := New([]Key{{Consumer: "billing", SHA256: Hash("key-billing")}})
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("key-billing")
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok := s.Lookup(key); !ok {
			t.Fatal("not found")
		}
	})
	if allocs != 0 {
		t.Fatalf("Lookup costs %v allocations, want 0", allocs)
	}
}
