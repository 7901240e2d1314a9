//go:build !race

package gateway

import (
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestCompressionAllocations: on a route with compression, an answer
// compressed in memory, a proxied one compressed as it streams (gzip),
// and one sent plain to a client without Accept-Encoding each cost no
// allocation in steady state.
func TestCompressionAllocations(t *testing.T) {
	body := strings.Repeat(`{"id":1,"name":"a name","tags":["x","y"]},`, 100)
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(body)
	})
	gw := startGateway(t, `
routes:
  - name: respond
    match: { path: /respond }
    respond: { body: '`+body+`', headers: { Content-Type: application/json } }
    compression: {}
  - name: proxied
    match: { path: /proxied }
    upstream: { targets: ["{UP1}"] }
    compression: {}
`, up)
	for _, tt := range []struct {
		desc, path, accept, want string
	}{
		{desc: "respond, gzip", path: "/respond", accept: "gzip", want: "gzip"},
		{desc: "respond, br", path: "/respond", accept: "br", want: "br"},
		{desc: "respond, zstd", path: "/respond", accept: "zstd", want: "zstd"},
		{desc: "respond, no Accept-Encoding", path: "/respond"},
		{desc: "proxied, gzip", path: "/proxied", accept: "gzip", want: "gzip"},
		{desc: "proxied, no Accept-Encoding", path: "/proxied"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			ctx := newBenchCtx(tt.path)
			serve := func() {
				ctx.Response.Reset()
				ctx.Request.Header.Reset()
				ctx.Request.Header.SetMethod("GET")
				ctx.Request.Header.SetHost("bench.local")
				ctx.Request.SetRequestURI(tt.path)
				if tt.accept != "" {
					ctx.Request.Header.Set("Accept-Encoding", tt.accept)
				}
				gw.serve(ctx)
				if ctx.Response.StatusCode() != 200 || string(ctx.Response.Header.ContentEncoding()) != tt.want {
					panic("status " + strconv.Itoa(ctx.Response.StatusCode()) + ", Content-Encoding " + string(ctx.Response.Header.ContentEncoding()))
				}
				// What the server does after writing: write and release a
				// streamed body.
				if ctx.Response.IsBodyStream() {
					if err := ctx.Response.BodyWriteTo(io.Discard); err != nil {
						panic(err)
					}
				}
				ctx.Response.ResetBody()
			}
			for range 10 {
				serve()
			}
			if n := testing.AllocsPerRun(200, serve); n != 0 {
				t.Errorf("%.1f allocations per request, want 0", n)
			}
		})
	}
}
