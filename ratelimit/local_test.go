package ratelimit

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// offer sends requests for key at mean gap from start until start+span,
// with arrival times jittered by ±50 %, and returns how many passed.
func offer(l Limiter, key []byte, start time.Time, span, gap time.Duration, rng *rand.Rand) int {
	passed := 0
	for now := start; now.Before(start.Add(span)); now = now.Add(gap/2 + time.Duration(rng.Int64N(int64(gap)))) {
		if l.Allow(key, now).Allowed {
			passed++
		}
	}
	return passed
}

func within(got, want int, frac float64) bool {
	return math.Abs(float64(got-want)) <= frac*float64(want)
}

func TestLocalAccuracy(t *testing.T) {
	tests := []struct {
		desc  string
		rate  float64
		burst int
		span  time.Duration
	}{
		{desc: "10/s burst 5 for 10s", rate: 10, burst: 5, span: 10 * time.Second},
		{desc: "1000/s burst 100 for 5s", rate: 1000, burst: 100, span: 5 * time.Second},
		{desc: "100/m burst 10 for 5m", rate: 100.0 / 60, burst: 10, span: 5 * time.Minute},
		{desc: "0.5/s burst 3 for 4m", rate: 0.5, burst: 3, span: 4 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			l := newLocal(t, LocalSettings{Rate: tt.rate, Burst: tt.burst})
			gap := time.Duration(float64(time.Second) / (3 * tt.rate)) // 3× the rate
			got := offer(l, []byte("client"), t0, tt.span, gap, rand.New(rand.NewPCG(7, 7)))
			want := int(tt.rate*tt.span.Seconds()) + tt.burst
			t.Logf("passed %d, want %d", got, want)
			if !within(got, want, 0.03) {
				t.Errorf("passed %d, want %d ±3%%", got, want)
			}
		})
	}
}

func TestLocalKeysDoNotShare(t *testing.T) {
	const keys = 50
	l := newLocal(t, LocalSettings{Rate: 20, Burst: 10})
	rng := rand.New(rand.NewPCG(3, 4))
	passed := make([]int, keys)
	// Interleave: every 1/60 s each key sends one request (3× its rate).
	for step := range 60 * 5 {
		now := at(time.Duration(step) * time.Second / 60)
		for _, k := range rng.Perm(keys) {
			if l.Allow(keyBytes(nil, k), now).Allowed {
				passed[k]++
			}
		}
	}
	want := 20*5 + 10
	for k, got := range passed {
		if !within(got, want, 0.03) {
			t.Errorf("key %d: passed %d, want %d ±3%%", k, got, want)
		}
	}
	if l.Len() != keys {
		t.Errorf("Len = %d, want %d", l.Len(), keys)
	}
}

// TestLocalConcurrentAccuracy offers 3× the rate from several goroutines
// sharing one simulated clock, on one key and on many.
func TestLocalConcurrentAccuracy(t *testing.T) {
	tests := []struct {
		desc string
		keys int
	}{
		{desc: "one key", keys: 1},
		{desc: "64 keys", keys: 64},
	}
	const (
		rate    = 2000.0
		burst   = 100
		span    = 3 * time.Second
		workers = 4
	)
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			l := newLocal(t, LocalSettings{Rate: rate * float64(tt.keys), Burst: burst})
			if tt.keys > 1 {
				l = newLocal(t, LocalSettings{Rate: rate, Burst: burst})
			}
			gap := time.Duration(float64(time.Second) / (3 * rate * float64(tt.keys)))
			total := int64(span / gap)
			var clock, passed atomic.Int64
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					buf := make([]byte, 0, 32)
					for i := 0; ; i++ {
						n := clock.Add(1)
						if n > total {
							return
						}
						if l.Allow(keyBytes(buf, int(n)%tt.keys), at(time.Duration(n)*gap)).Allowed {
							passed.Add(1)
						}
						_ = w
					}
				})
			}
			wg.Wait()
			want := tt.keys * (int(rate*span.Seconds()) + burst)
			if tt.keys == 1 {
				want = int(rate*span.Seconds()) + burst
			}
			got := int(passed.Load())
			t.Logf("passed %d, want %d", got, want)
			if !within(got, want, 0.03) {
				t.Errorf("passed %d, want %d ±3%%", got, want)
			}
			checkInvariants(t, l)
		})
	}
}

func TestLocalDoesNotKeepKey(t *testing.T) {
	l := newLocal(t, LocalSettings{Rate: 1, Burst: 2})
	buf := []byte("abc")
	l.Allow(buf, t0)
	copy(buf, "xyz")
	if d := l.Allow([]byte("abc"), t0); d.Remaining != 0 {
		t.Errorf("second request for abc: Remaining = %d, want 0 (the key was not copied)", d.Remaining)
	}
	if d := l.Allow([]byte("xyz"), t0); d.Remaining != 1 {
		t.Errorf("first request for xyz: Remaining = %d, want 1", d.Remaining)
	}
}

// oneShard returns a Local small enough to have a single shard.
func oneShard(t *testing.T, s LocalSettings) *Local {
	t.Helper()
	l := newLocal(t, s)
	if len(l.shards) != 1 {
		t.Fatalf("%d shards, want 1", len(l.shards))
	}
	return l
}

func has(l *Local, key string) bool {
	for i := range l.shards {
		if _, ok := l.shards[i].m[key]; ok {
			return true
		}
	}
	return false
}

func TestLocalIdleExpiry(t *testing.T) {
	tests := []struct {
		desc     string
		idle     time.Duration
		drain    bool          // empty the idle keys' buckets first
		after    time.Duration // since they were last used
		wantGone bool
	}{
		{desc: "full for the TTL: gone", idle: time.Minute, after: time.Minute + time.Second, wantGone: true},
		{desc: "not idle for the TTL: kept", idle: time.Minute, after: 59 * time.Second},
		{desc: "drained, full for less than the TTL: kept", idle: time.Minute, drain: true, after: time.Minute + 500*time.Millisecond},
		{desc: "drained, full for the TTL: gone", idle: time.Minute, drain: true, after: time.Minute + 2*time.Second, wantGone: true},
		{desc: "default TTL is 10m", after: 9 * time.Minute},
		{desc: "default TTL is 10m: gone after", after: 11 * time.Minute, wantGone: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			// 1 token a 100ms, burst 10: a drained bucket is full after 1s.
			l := oneShard(t, LocalSettings{Rate: 10, Burst: 10, MaxKeys: 500, IdleTTL: tt.idle})
			for k := range 100 {
				for range map[bool]int{false: 1, true: 10}[tt.drain] {
					l.Allow(keyBytes(nil, k), t0)
				}
			}
			// Traffic on one other key removes idle ones from the tail.
			for range 60 {
				l.Allow([]byte("busy"), t0.Add(tt.after))
			}
			want := 101
			if tt.wantGone {
				want = 1
			}
			if got := l.Len(); got != want {
				t.Errorf("Len = %d, want %d", got, want)
			}
			if l.Evicted() != 0 {
				t.Errorf("Evicted = %d, want 0 (expiry is not eviction)", l.Evicted())
			}
			checkInvariants(t, l)
		})
	}
}

func TestLocalEvictsLeastRecentlyUsed(t *testing.T) {
	l := oneShard(t, LocalSettings{Rate: 1, Burst: 2, MaxKeys: 100})
	for k := range 100 {
		l.Allow(keyBytes(nil, k), t0)
	}
	l.Allow(keyBytes(nil, 0), t0) // 0 is now the most recent; 1 the least
	l.Allow(keyBytes(nil, 0), t0) // and drained
	l.Allow([]byte("new"), t0)
	if got := l.Len(); got != 100 {
		t.Errorf("Len = %d, want 100 (the cap)", got)
	}
	if has(l, string(keyBytes(nil, 1))) || !has(l, string(keyBytes(nil, 0))) || !has(l, "new") {
		t.Errorf("want key 1 evicted and keys 0 and new kept")
	}
	if l.Evicted() != 1 {
		t.Errorf("Evicted = %d, want 1", l.Evicted())
	}
	if d := l.Allow(keyBytes(nil, 0), t0); d.Allowed {
		t.Errorf("key 0 was drained but passed: %+v", d)
	}
	// What an attacker cycling keys achieves: an evicted key comes back
	// with a full bucket.
	for k := 1000; k < 1100; k++ {
		l.Allow(keyBytes(nil, k), t0)
	}
	if d := l.Allow(keyBytes(nil, 0), t0); !d.Allowed || d.Remaining != 1 {
		t.Errorf("evicted key 0 came back with %+v, want a full bucket", d)
	}
	checkInvariants(t, l)
}

func TestLocalShards(t *testing.T) {
	tests := []struct {
		desc       string
		give       int
		wantShards int
		wantCap    int
	}{
		{desc: "default", give: 0, wantShards: 64, wantCap: 99_968},
		{desc: "one key", give: 1, wantShards: 1, wantCap: 1},
		{desc: "small", give: 1000, wantShards: 2, wantCap: 1000},
		{desc: "a million", give: 1_000_000, wantShards: 64, wantCap: 1_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			l := newLocal(t, LocalSettings{Rate: 1, MaxKeys: tt.give})
			capacity := 0
			for i := range l.shards {
				capacity += int(l.shards[i].max)
			}
			if len(l.shards) != tt.wantShards || capacity != tt.wantCap {
				t.Errorf("%d shards holding %d keys, want %d holding %d", len(l.shards), capacity, tt.wantShards, tt.wantCap)
			}
		})
	}
}

// TestLocalConcurrentChurn runs many goroutines over more keys than the
// cap, with expiry, then checks every shard's structure.
func TestLocalConcurrentChurn(t *testing.T) {
	l := newLocal(t, LocalSettings{Rate: 5, Burst: 2, MaxKeys: 2000, IdleTTL: time.Second})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			buf := make([]byte, 0, 32)
			for i := range 20_000 {
				now := at(time.Duration(i) * time.Millisecond)
				l.Allow(keyBytes(buf, rng.IntN(5000)), now)
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n > 2000 {
		t.Errorf("Len = %d, over the cap of 2000", n)
	}
	checkInvariants(t, l)
}

// checkInvariants verifies each shard: the LRU list, the map, the count
// and the free list agree.
func checkInvariants(t *testing.T, l *Local) {
	t.Helper()
	for s := range l.shards {
		sh := &l.shards[s]
		sh.mu.Lock()
		seen := 0
		prev := int32(none)
		for i := sh.head; i != none; i = sh.slab[i].next {
			e := &sh.slab[i]
			if e.prev != prev {
				t.Fatalf("shard %d: slot %d prev = %d, want %d", s, i, e.prev, prev)
			}
			if j, ok := sh.m[e.key]; !ok || j != i {
				t.Fatalf("shard %d: slot %d key %q maps to %d, %v", s, i, e.key, j, ok)
			}
			prev = i
			seen++
			if seen > len(sh.slab) {
				t.Fatalf("shard %d: LRU list loops", s)
			}
		}
		if prev != sh.tail {
			t.Fatalf("shard %d: tail = %d, list ends at %d", s, sh.tail, prev)
		}
		free := 0
		for i := sh.free; i != none; i = sh.slab[i].next {
			free++
		}
		if seen != int(sh.n) || seen != len(sh.m) || seen+free != len(sh.slab) || sh.n > sh.max {
			t.Fatalf("shard %d: list %d, n %d, map %d, free %d, slab %d, max %d", s, seen, sh.n, len(sh.m), free, len(sh.slab), sh.max)
		}
		sh.mu.Unlock()
	}
}

// TestLocalOutOfOrderTimes: requests reach a bucket out of order (each
// brings the time it arrived; goroutines interleave). A request with an
// earlier time than one before it must not get tokens credited twice.
func TestLocalOutOfOrderTimes(t *testing.T) {
	const rate, burst = 2000, 100
	l := newLocal(t, LocalSettings{Rate: rate, Burst: burst})
	gap := time.Second / (3 * rate) // three times faster than the rate
	total := int(3 * time.Second / gap)
	r := rand.New(rand.NewPCG(1, 2))
	passed := 0
	// Arrival times in order, delivered shuffled within windows of 8,
	// as four busy workers would deliver them.
	for base := 0; base < total; base += 8 {
		for _, j := range r.Perm(8) {
			if l.Admit([]byte("k"), at(time.Duration(base+j)*gap)) {
				passed++
			}
		}
	}
	if want := rate*3 + burst; !within(passed, want, 0.03) {
		t.Errorf("passed %d, want %d ±3%%: out-of-order times must not add tokens", passed, want)
	}
}
