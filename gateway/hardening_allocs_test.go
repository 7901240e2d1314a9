//go:build !race

package gateway

import (
	"testing"
)

// TestHardeningAllocations: a proxied request that carries what the
// hardening rules act on (a Connection header naming another, forwarded
// headers to replace, X-Real-IP and True-Client-IP among them, an
// origin-form path to check) still costs no allocation.
func TestHardeningAllocations(t *testing.T) {
	up := benchUpstream(t, benchBody)
	gw := startGateway(t, benchConfig, up)
	const path = "/api/x/./y?q=1"
	ctx := newBenchCtx(path)
	serve := func() {
		ctx.Response.Reset()
		ctx.Request.Header.Reset()
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.Header.SetHost("bench.local")
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.Set("Connection", "keep-alive, X-Hop")
		ctx.Request.Header.Set("X-Hop", "1")
		ctx.Request.Header.Set("X-Forwarded-For", "6.6.6.6")
		ctx.Request.Header.Set("Forwarded", "for=6.6.6.6")
		ctx.Request.Header.Set("X-Real-IP", "6.6.6.6")
		ctx.Request.Header.Set("True-Client-IP", "6.6.6.6")
		gw.serve(ctx)
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
		ctx.Response.ResetBody()
	}
	for i := 0; i < 10; i++ {
		serve()
	}
	if n := testing.AllocsPerRun(200, serve); n != 0 {
		t.Errorf("%.1f allocations per request, want 0", n)
	}
}
