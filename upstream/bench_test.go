package upstream

import (
	"io"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkDo compares this client with fasthttp.HostClient doing the same
// against the same loopback fasthttp.Server, one request at a time.
func BenchmarkDo(b *testing.B) {
	bodies := map[string][]byte{
		"/13B":   []byte("hello, world!"),
		"/1KiB":  pattern(1 << 10),
		"/64KiB": pattern(64 << 10),
		"/1MiB":  pattern(1 << 20),
	}
	u := startServer(b, func(ctx *fasthttp.RequestCtx) { ctx.SetBody(bodies[string(ctx.Path())]) })
	cases := []struct {
		name     string
		path     string
		streamed bool
		post     bool // a non-idempotent request: idle connections are probed
	}{
		{"buffered-13B", "/13B", false, false},
		{"buffered-1KiB", "/1KiB", false, false},
		{"buffered-64KiB", "/64KiB", false, false},
		{"streamed-1MiB", "/1MiB", true, false},
		{"post-buffered-13B", "/13B", false, true},
	}
	for _, cs := range cases {
		b.Run(cs.name+"/upstream", func(b *testing.B) {
			c := newClient(b, Settings{Addr: u.addr})
			benchDo(b, u.addr, cs.path, cs.streamed, cs.post, func(req *fasthttp.Request, resp *fasthttp.Response) error {
				return c.Do(req, resp, time.Now().Add(5*time.Second))
			})
		})
		b.Run(cs.name+"/hostclient", func(b *testing.B) {
			hc := newHostClient(u.addr)
			hc.StreamResponseBody = cs.streamed
			b.Cleanup(hc.CloseIdleConnections)
			benchDo(b, u.addr, cs.path, cs.streamed, cs.post, func(req *fasthttp.Request, resp *fasthttp.Response) error {
				return hc.DoDeadline(req, resp, time.Now().Add(5*time.Second))
			})
		})
	}
}

func benchDo(b *testing.B, addr, path string, streamed, post bool, do func(*fasthttp.Request, *fasthttp.Response) error) {
	var req fasthttp.Request
	var resp fasthttp.Response
	req.Header.SetHost(addr)
	req.SetRequestURI(path)
	if post {
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetBodyString("payload")
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := do(&req, &resp); err != nil {
			b.Fatal(err)
		}
		if resp.IsBodyStream() != streamed {
			b.Fatalf("streamed = %v, want %v", resp.IsBodyStream(), streamed)
		}
		if streamed {
			n, err := io.Copy(io.Discard, resp.BodyStream())
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(n)
			if err := resp.CloseBodyStream(); err != nil {
				b.Fatal(err)
			}
		} else {
			b.SetBytes(int64(len(resp.Body())))
		}
	}
}
