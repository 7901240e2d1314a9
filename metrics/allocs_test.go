//go:build !race

package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRecordingAllocations: recording a request on a route costs nothing
// once its (method, code) pair has been seen.
func TestRecordingAllocations(t *testing.T) {
	r := New(prometheus.NewRegistry(), Build{Version: "t"}).Route("r")
	get := []byte("GET")
	r.Request(get, 200)
	n := testing.AllocsPerRun(1000, func() {
		r.Request(get, 200)
		r.Duration.Observe(0.001)
		r.InFlight.Inc()
		r.InFlight.Dec()
		r.UpstreamError(KindConnect)
	})
	if n != 0 {
		t.Errorf("%.1f allocations per request, want 0", n)
	}
}
