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
		desc   string
		path   string
		cached bool // the warm-up stored a copy for the fallback cache
	}{
		{desc: "proxied request", path: "/api/x"},
		{desc: "respond route", path: "/hello"},
		{desc: "rate-limited route, admitted", path: "/rl-open"},
		// The cache holds a fresh copy after the warm-up, so the answer
		// is not copied again.
		{desc: "proxied request behind a breaker and a fallback cache", path: "/guard/x", cached: true},
		{desc: "proxied request behind per-target breakers", path: "/targets/x"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ctx := newBenchCtx(tt.path)
			for i := 0; i < 10; i++ { // warm the pools and the metric children
				serveOnce(gw.Gateway, ctx, tt.path)
			}
			if tt.cached && gw.deps.cache.Stats().Entries != 1 {
				t.Fatalf("%d entries in the fallback cache after the warm-up, want 1", gw.deps.cache.Stats().Entries)
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

// TestBreakerOpenAllocations: with the breaker open, a fallback answer (a
// static one, or the error) costs no allocation.
func TestBreakerOpenAllocations(t *testing.T) {
	gw := startGateway(t, `
routes:
  - name: static
    match: { path_prefix: /static/ }
    upstream: { targets: ["{UP1}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 1, open_for: 1h }
    fallback: { cache: {}, static: { body: "later" } }
  - name: error
    match: { path_prefix: /error/ }
    upstream: { targets: ["{UP1}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 1, open_for: 1h }
`, deadAddr(t))
	for _, tt := range []struct {
		desc, path string
		want       int
	}{
		{desc: "static fallback", path: "/static/x", want: 503},
		{desc: "error answer", path: "/error/x", want: 503},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			ctx := newBenchCtx(tt.path)
			serve := func() {
				ctx.Response.Reset()
				ctx.Request.Header.Reset()
				ctx.Request.Header.SetMethod("GET")
				ctx.Request.Header.SetHost("bench.local")
				ctx.Request.SetRequestURI(tt.path)
				gw.serve(ctx)
			}
			for i := 0; i < 10; i++ {
				serve()
			}
			if ctx.Response.StatusCode() != tt.want {
				t.Fatalf("status %d, want %d", ctx.Response.StatusCode(), tt.want)
			}
			if n := testing.AllocsPerRun(200, serve); n != 0 {
				t.Errorf("%.1f allocations per request, want 0", n)
			}
		})
	}
}
