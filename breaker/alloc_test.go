//go:build !race

package breaker

import (
	"testing"
	"time"
)

// TestAllocations holds the request path's checks at zero allocations.
func TestAllocations(t *testing.T) {
	closed := mustNew(t, "r", Settings{FailureRatio: 0.5, MinRequests: 10})
	settled := mustNew(t, "r", Settings{ConsecutiveFailures: 1000})
	open := mustNew(t, "r", Settings{ConsecutiveFailures: 1, OpenFor: time.Minute})
	trip(t, open)
	set, err := NewSet(Settings{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	target := "127.0.0.1:9001"
	set.Get(target)
	status := 200
	tests := []struct {
		desc string
		give func()
	}{
		{desc: "closed, success", give: func() {
			closed.Do(func() (int, bool) { return status, false })
		}},
		{desc: "closed, failure", give: func() {
			closed.Do(func() (int, bool) { return 404, false })
		}},
		{desc: "settled, success", give: func() {
			settled.Do(func() (int, bool) { return status, false })
		}},
		{desc: "settled, failure", give: func() {
			settled.Do(func() (int, bool) { return 503, false })
			settled.Do(func() (int, bool) { return status, false })
		}},
		{desc: "open, rejected", give: func() {
			open.Do(func() (int, bool) { return status, false })
		}},
		{desc: "set, known target", give: func() {
			set.Get(target).Do(func() (int, bool) { return status, false })
		}},
		{desc: "state", give: func() { closed.State() }},
		{desc: "open remaining", give: func() { open.OpenRemaining(time.Time{}) }},
		{desc: "set, open remaining", give: func() { set.OpenRemaining(time.Time{}) }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if n := testing.AllocsPerRun(1000, tt.give); n != 0 {
				t.Errorf("%.1f allocations per call, want 0", n)
			}
		})
	}
}
