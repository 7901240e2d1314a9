//go:build !race

package httpx

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestHygieneAllocations: the checks and rewrites a request passes
// through cost no allocation, on a request that carries everything they
// act on, from an untrusted and from a trusted peer.
func TestHygieneAllocations(t *testing.T) {
	tp, err := NewTrustedProxies([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, peer := range []string{"203.0.113.5", "10.0.0.9"} {
		t.Run(peer, func(t *testing.T) {
			var ctx fasthttp.RequestCtx
			var req fasthttp.Request
			ctx.Init(&req, &net.TCPAddr{IP: net.ParseIP(peer), Port: 1234}, nil)
			h := &ctx.Request.Header
			var scratch [256]byte
			var id [64]byte
			run := func() {
				h.Reset()
				h.SetMethod("GET")
				h.SetRequestURI("/api/x/./y?q=1")
				h.SetHost("a.example")
				h.Set("Connection", "keep-alive, X-Hop")
				h.Set("X-Hop", "1")
				h.Set("X-Forwarded-For", "6.6.6.6, 10.1.1.1")
				h.Set("Forwarded", "for=6.6.6.6")
				h.Set("X-Real-IP", "6.6.6.6")
				h.Set("True-Client-IP", "6.6.6.6")
				if !CheckVersion(h) || BadFraming(h) || CheckTarget(h.RequestURI()) != TargetOrigin {
					t.Fatal("a good request refused")
				}
				_ = HeaderLines(h.RawHeaders())
				_ = ClientAddr(&ctx, tp)
				f := ScanRequestHeaders(h)
				if f&FlagHopByHop != 0 {
					StripRequestHopByHop(h)
				}
				SetForwarded(h, f, PeerAddr(&ctx), SchemeOf(&ctx), tp, scratch[:0])
				was := UpstreamHTTP11(h)
				RestoreHTTP10(h, was)
				_ = AppendRequestID(id[:0])
			}
			for range 10 {
				run()
			}
			if n := testing.AllocsPerRun(200, run); n != 0 {
				t.Errorf("%.1f allocations per request, want 0", n)
			}
		})
	}
}
