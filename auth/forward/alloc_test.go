//go:build !race

package forward

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestCachedDecisionAllocatesNothing: a client repeating its credential
// is answered from the cache without allocating.
func TestCachedDecisionAllocatesNothing(t *testing.T) {
	url, calls := authServer(t, func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(200) })
	c := newClient(t, Settings{URL: url, RequestHeaders: []string{"Authorization"}, CacheTTL: time.Minute, CacheKeyHeaders: []string{"Authorization", "Cookie"}, CacheKeyRequest: true})
	req := inbound(t, "GET /orders/7 HTTP/1.1\nHost: a\nAuthorization: Bearer abc\nCookie: a=1\nCookie: b=2\n")
	now := time.Now()
	if d, err := c.Check(req, Forwarded{}, now); err != nil || !d.Allowed {
		t.Fatalf("Check = %+v, %v", d, err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if d, err := c.Check(req, Forwarded{}, now); err != nil || !d.Allowed {
			t.Fatal("refused")
		}
	})
	if allocs != 0 {
		t.Fatalf("a cached decision costs %v allocations, want 0", allocs)
	}
	if calls.Load() != 1 {
		t.Fatalf("the endpoint was called %d times, want once", calls.Load())
	}
}
