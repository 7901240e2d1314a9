//go:build !race

package gateway

import (
	"testing"
)

// TestAllocations holds the hot path to its budget: no allocation per
// request in steady state.
func TestAllocations(t *testing.T) {
	up := benchUpstream(t, benchBody)
	gw := startGateway(t, benchConfig, up)
	tests := []struct {
		desc string
		path string
	}{
		{desc: "proxied request", path: "/api/x"},
		{desc: "respond route", path: "/hello"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ctx := newBenchCtx(tt.path)
			for i := 0; i < 10; i++ { // warm the pools and the metric children
				serveOnce(gw.Gateway, ctx, tt.path)
			}
			if n := testing.AllocsPerRun(200, func() { serveOnce(gw.Gateway, ctx, tt.path) }); n != 0 {
				t.Errorf("%.1f allocations per request, want 0", n)
			}
		})
	}
}
