package ratelimit

import (
	"testing"
	"time"
)

// TestAdmitAgreesWithAllow: Admit and Allow take the same tokens, and keys
// used only through Admit still expire once their bucket has been full for
// IdleTTL.
func TestAdmitAgreesWithAllow(t *testing.T) {
	tests := []struct {
		desc  string
		rate  float64
		burst int
	}{
		{desc: "slow", rate: 2, burst: 3},
		{desc: "fast", rate: 1000, burst: 50},
		{desc: "fractional", rate: 0.5, burst: 1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			a := newLocal(t, LocalSettings{Rate: tt.rate, Burst: tt.burst})
			b := newLocal(t, LocalSettings{Rate: tt.rate, Burst: tt.burst})
			key := []byte("k")
			now := t0
			for i := 0; i < 2000; i++ {
				now = now.Add(time.Duration(i%7) * time.Duration(float64(time.Second)/tt.rate/3))
				if got, want := a.Admit(key, now), b.Allow(key, now).Allowed; got != want {
					t.Fatalf("request %d: Admit %v, Allow %v", i, got, want)
				}
			}
		})
	}
}

// fullOf returns when key's bucket is full again, as expiry sees it.
func fullOf(l *Local, key string) int64 {
	for i := range l.shards {
		sh := &l.shards[i]
		if j, ok := sh.m[key]; ok {
			return sh.slab[j].full
		}
	}
	return -1
}

// TestAdmitKeepsExpiry: a key used only through Admit becomes idle when
// one used through Allow would, so expiry works the same.
func TestAdmitKeepsExpiry(t *testing.T) {
	a := newLocal(t, LocalSettings{Rate: 3, Burst: 4})
	b := newLocal(t, LocalSettings{Rate: 3, Burst: 4})
	now, taken := t0, 0
	for i := 0; i < 500; i++ {
		now = now.Add(time.Duration(i%5) * 100 * time.Millisecond)
		if a.Admit([]byte("k"), now) {
			taken++
		}
		b.Allow([]byte("k"), now)
	}
	fa, fb := fullOf(a, "k"), fullOf(b, "k")
	// x/time/rate counts tokens in floating point: a few microseconds of
	// drift over hundreds of requests is nothing to an IdleTTL of minutes.
	if d := time.Duration(fa - fb); d < -time.Millisecond || d > time.Millisecond || taken == 0 {
		t.Errorf("full again at %d through Admit, %d through Allow (%d tokens taken): apart by %v", fa, fb, taken, d)
	}
}
