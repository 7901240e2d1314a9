package ratelimit

import (
	"runtime"
	"testing"
	"time"
)

// maxBytesPerKey is the memory per key documented in doc.go: what
// TestMemoryPerKey holds a full Local to.
const maxBytesPerKey = 240

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// fill offers n distinct client-address keys at one request each.
func fill(l *Local, n int) {
	buf := make([]byte, 0, 32)
	for i := range n {
		l.Allow(keyBytes(buf, i), at(time.Duration(i)*time.Microsecond))
	}
}

// TestMemoryPerKey measures a Local holding as many keys as it may, with
// keys like IPv4 addresses, and holds it to maxBytesPerKey.
func TestMemoryPerKey(t *testing.T) {
	tests := []struct {
		desc    string
		maxKeys int
	}{
		{desc: "default cap", maxKeys: DefaultMaxKeys},
		{desc: "a million", maxKeys: 1_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			before := heapInUse()
			l := newLocal(t, LocalSettings{Rate: 10, Burst: 10, MaxKeys: tt.maxKeys})
			fill(l, tt.maxKeys)
			after := heapInUse()
			n := l.Len()
			perKey := float64(after-before) / float64(n)
			t.Logf("%d keys: %.1f bytes per key, %.1f MiB", n, perKey, float64(after-before)/(1<<20))
			// Shards fill unevenly: eviction starts a little below the cap.
			if n < tt.maxKeys*97/100 || n > tt.maxKeys {
				t.Errorf("Len = %d, want within 3%% of and at most %d", n, tt.maxKeys)
			}
			if perKey > maxBytesPerKey {
				t.Errorf("%.1f bytes per key, over the documented %d", perKey, maxBytesPerKey)
			}
			runtime.KeepAlive(l)
		})
	}
}

// TestMemoryCapUnderKeyCycling offers 1,000,000 distinct keys (an
// attacker cycling addresses) to a Local with the default cap: it keeps
// at most the cap, in at most the documented memory.
func TestMemoryCapUnderKeyCycling(t *testing.T) {
	before := heapInUse()
	l := newLocal(t, LocalSettings{Rate: 10, Burst: 10})
	fill(l, 1_000_000)
	after := heapInUse()
	n := l.Len()
	t.Logf("Len %d, evicted %d, heap %.1f MiB", n, l.Evicted(), float64(after-before)/(1<<20))
	if n > DefaultMaxKeys {
		t.Errorf("Len = %d, over the cap %d", n, DefaultMaxKeys)
	}
	if got, limit := after-before, uint64(DefaultMaxKeys*maxBytesPerKey); got > limit {
		t.Errorf("heap grew by %d bytes, over the documented %d", got, limit)
	}
	if ev := l.Evicted(); ev < uint64(1_000_000-DefaultMaxKeys) {
		t.Errorf("Evicted = %d, want at least %d", ev, 1_000_000-DefaultMaxKeys)
	}
	checkInvariants(t, l)
	runtime.KeepAlive(l)
}
