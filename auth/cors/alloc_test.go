//go:build !race

package cors

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestCORSAllocatesNothing(t *testing.T) {
	p := newPolicy(t, apiPolicy)
	pre := preflight(t, "https://shop.example.org")
	get := browserRequest(t, "GET / HTTP/1.1\nHost: a\nOrigin: https://app.example.com\n")
	var resp fasthttp.Response
	allocs := testing.AllocsPerRun(1000, func() {
		resp.Header.Reset()
		if !IsPreflight(&pre.Header) || !p.Preflight(&pre.Header, &resp.Header) {
			t.Fatal("preflight refused")
		}
		resp.Header.Reset()
		if !p.Apply(&get.Header, &resp.Header) {
			t.Fatal("origin refused")
		}
	})
	if allocs != 0 {
		t.Fatalf("CORS costs %v allocations, want 0", allocs)
	}
}
