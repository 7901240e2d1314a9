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
		{desc: "rate-limited route, admitted", path: "/rl-open"},
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

// TestRateLimitedAllocations: a request refused by a rate limit costs no
// allocation either.
func TestRateLimitedAllocations(t *testing.T) {
	gw := startGateway(t, `
routes:
  - { name: closed, match: { path: /closed }, rate_limit: { rate: 1/h, burst: 1, headers: true }, respond: {} }
`)
	ctx := newBenchCtx("/closed")
	serve := func() {
		ctx.Response.Reset()
		ctx.Request.Header.Reset()
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.Header.SetHost("bench.local")
		ctx.Request.SetRequestURI("/closed")
		gw.serve(ctx)
	}
	for i := 0; i < 10; i++ {
		serve()
	}
	if ctx.Response.StatusCode() != 429 {
		t.Fatalf("status %d, want 429", ctx.Response.StatusCode())
	}
	if n := testing.AllocsPerRun(200, serve); n != 0 {
		t.Errorf("%.1f allocations per refused request, want 0", n)
	}
}
