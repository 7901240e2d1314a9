//go:build !race

package discovery

import (
	"testing"
	"time"
)

// TestAllocs holds the request path to zero allocations: Pick of every
// kind (healthy, with a skip, with instances down, in panic mode) and the
// Instance methods a request calls.
func TestAllocs(t *testing.T) {
	addrs := []string{"a:1", "b:1", "c:1", "d:1"}
	tests := []struct {
		desc string
		down []string
		skip string
	}{
		{desc: "healthy"},
		{desc: "skip", skip: "b:1"},
		{desc: "some down", down: []string{"a:1", "c:1"}, skip: "b:1"},
		{desc: "panic mode", down: addrs, skip: "a:1"},
	}
	for _, kind := range kinds {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.desc, func(t *testing.T) {
				s := newTestSet(addrs, tt.down)
				skip := s.Lookup(tt.skip)
				b := mustBalancer(t, kind)
				if n := testing.AllocsPerRun(1000, func() { b.Pick(s, t0, skip) }); n != 0 {
					t.Fatalf("Pick: %v allocs, want 0", n)
				}
			})
		}
	}
	t.Run("instance", func(t *testing.T) {
		in := NewSet([]Endpoint{{Addr: "a:1"}}, HealthSettings{MaxFailures: 3, Cooldown: time.Second}).Instances()[0]
		n := testing.AllocsPerRun(1000, func() {
			in.Acquire()
			_ = in.InFlight()
			in.ReportFailure(t0)
			_ = in.Available(t0)
			in.ReportSuccess()
			in.Release()
		})
		if n != 0 {
			t.Fatalf("Instance methods: %v allocs, want 0", n)
		}
	})
}
