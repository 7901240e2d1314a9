//go:build !race

package cache

import (
	"testing"
	"time"
)

// TestAllocations holds the request path's cache work at zero
// allocations: a hit, and the store step of a success whose copy is
// still fresh.
func TestAllocations(t *testing.T) {
	m := mustMemory(t, Settings{RefreshAfter: time.Second})
	tr := mustTiered(t, m, deadClient(t), RedisSettings{}, TieredSettings{})
	policy := Policy{}
	method, host, path := []byte("GET"), []byte("api.example.com"), []byte("/users/42")
	cacheControl := []byte("public, max-age=60")
	buf := make([]byte, 0, 256)
	key := AppendKey(nil, method, host, path, nil)
	m.Put(key, newEntry("x", 100, 1000, t0))
	fresh := newEntry("y", 100, 1000, t0.Add(time.Millisecond))
	now := t0.Add(time.Millisecond)

	tests := []struct {
		desc string
		give func()
	}{
		{desc: "memory hit", give: func() { m.Get(key, now) }},
		{desc: "tiered hit", give: func() { tr.Get(key, now) }},
		{desc: "success path, copy still fresh", give: func() {
			buf = AppendKey(buf[:0], method, host, path, nil)
			if policy.Storable(method, 200, cacheControl, false) && m.Wants(buf, now) {
				t.Fatal("Wants: true for a fresh copy")
			}
		}},
		{desc: "put of a fresh copy", give: func() { tr.Put(key, fresh) }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if n := testing.AllocsPerRun(1000, tt.give); n != 0 {
				t.Errorf("%.1f allocations per call, want 0", n)
			}
		})
	}
}
