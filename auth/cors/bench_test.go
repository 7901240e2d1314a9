package cors

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func BenchmarkApply(b *testing.B) {
	p := newPolicy(b, apiPolicy)
	req := browserRequest(b, "GET / HTTP/1.1\nHost: a\nOrigin: https://shop.example.org\n")
	var resp fasthttp.Response
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp.Header.Reset()
		p.Apply(&req.Header, &resp.Header)
	}
}

func BenchmarkPreflight(b *testing.B) {
	p := newPolicy(b, apiPolicy)
	req := preflight(b, "https://app.example.com")
	var resp fasthttp.Response
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp.Header.Reset()
		p.Preflight(&req.Header, &resp.Header)
	}
}
