//go:build !race

package gateway

import (
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestCompressionStreamBoundedMemory: a body larger than the test's heap
// bound (run without -race, as the gigabyte streams: compressing it under
// the race detector takes half a minute), streamed from the upstream with its length, is compressed as it
// streams with each encoding, decodes to as many bytes, and the whole
// test process stays under heapBound meanwhile: neither the body nor
// its compressed form is held.
func TestCompressionStreamBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves a large body")
	}
	const size = 128 << 20
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/plain")
		ctx.SetBodyStream(&pattern{left: size}, size)
	})
	gw := startGateway(t, `
server: { read_timeout: 1h, write_timeout: 1h }
routes:
  - { name: big, match: { path: /big }, upstream: { targets: ["{UP1}"], timeout: 10s }, compression: {} }
`, up)
	for _, enc := range []string{"gzip", "br", "zstd"} {
		t.Run(enc, func(t *testing.T) {
			runtime.GC()
			stop := heapWatch()
			req, _ := http.NewRequest("GET", "http://"+gw.addr+"/big", nil)
			req.Header.Set("Accept-Encoding", enc)
			tr := &http.Transport{DisableCompression: true}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if got := resp.Header.Get("Content-Encoding"); got != enc {
				t.Fatalf("Content-Encoding %q", got)
			}
			n, err := io.Copy(io.Discard, streamDecoder(t, enc, resp.Body))
			peak := stop()
			if err != nil || n != size {
				t.Fatalf("decoded %d bytes (%v), want %d", n, err, size)
			}
			if peak > heapBound {
				t.Errorf("heap peaked at %d MiB while compressing %d MiB, want under %d MiB", peak>>20, size>>20, heapBound>>20)
			}
		})
	}
}
