//go:build !race

package certs_test

import (
	"testing"

	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/certs/certstest"
)

// TestSelectAllocs holds SNI selection, the per-handshake lookup, to zero
// allocations whatever the name's case and shape.
func TestSelectAllocs(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	set := newSet(t, certs.SetOptions{},
		pair(t, ca, "api.example.com"), pair(t, ca, "*.example.com"))
	for _, name := range []string{"api.example.com", "API.Example.com.", "www.example.com", "WWW.EXAMPLE.COM", "unknown.test", ""} {
		if n := testing.AllocsPerRun(100, func() { _, _ = set.Select(name) }); n != 0 {
			t.Errorf("Select(%q) allocates %v times, want 0", name, n)
		}
	}
}
