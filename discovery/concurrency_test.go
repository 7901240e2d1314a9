package discovery

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentUse runs Pick, Acquire, Release and the Report methods of
// every kind from many goroutines while another swaps the Set, as the
// gateway does; run it under -race. Afterwards every in-flight count, in
// every Set built, is back to 0.
func TestConcurrentUse(t *testing.T) {
	const (
		workers = 8
		iters   = 2000
		swaps   = 200
	)
	hs := HealthSettings{MaxFailures: 2, Cooldown: time.Millisecond}
	lists := [][]Endpoint{
		{{Addr: "a:1", Weight: 1}, {Addr: "b:1", Weight: 2}, {Addr: "c:1", Weight: 3}},
		{{Addr: "b:1", Weight: 5}, {Addr: "c:1", Weight: 1}, {Addr: "d:1", Weight: 1}},
		{{Addr: "a:1", Weight: 1}, {Addr: "d:1", Weight: 1}},
	}
	var cur atomic.Pointer[Set]
	cur.Store(NewSet(lists[0], hs))
	sets := []*Set{cur.Load()}

	balancers := make([]Balancer, len(kinds))
	for i, kind := range kinds {
		balancers[i] = mustBalancer(t, kind)
	}

	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i <= swaps; i++ {
			s := NewSetFrom(cur.Load(), lists[i%len(lists)], hs)
			sets = append(sets, s)
			cur.Store(s)
		}
	})
	for w := range workers {
		wg.Go(func() {
			b := balancers[w%len(balancers)]
			var prev *Instance
			for i := range iters {
				now := t0 + int64(i)*int64(100*time.Microsecond)
				in := b.Pick(cur.Load(), now, prev)
				if in == nil {
					t.Error("Pick() = nil on a non-empty set")
					return
				}
				in.Acquire()
				_ = in.InFlight()
				if (i+w)%5 == 0 {
					in.ReportFailure(now)
					prev = in
				} else {
					in.ReportSuccess()
					prev = nil
				}
				in.Release()
			}
		})
	}
	wg.Wait()
	for i, s := range sets {
		for _, in := range s.Instances() {
			if n := in.InFlight(); n != 0 {
				t.Errorf("set %d: %s: InFlight() = %d after all releases", i, in.Addr, n)
			}
		}
	}
}

// TestConcurrentWeightedShares: the atomic counter hands out each position
// of the cycle exactly once, so shares stay exact under concurrency.
func TestConcurrentWeightedShares(t *testing.T) {
	const workers, perWorker = 4, 7 * 500
	s := NewSet([]Endpoint{{Addr: "a", Weight: 5}, {Addr: "b", Weight: 1}, {Addr: "c", Weight: 1}}, HealthSettings{})
	b := mustBalancer(t, Weighted)
	var counts [3]atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				in := b.Pick(s, t0, nil)
				counts[in.Addr[0]-'a'].Add(1)
			}
		})
	}
	wg.Wait()
	total := workers * perWorker
	for i, want := range []int{5 * total / 7, total / 7, total / 7} {
		if got := counts[i].Load(); got != int64(want) {
			t.Errorf("%c: %d picks, want %d", 'a'+i, got, want)
		}
	}
}
