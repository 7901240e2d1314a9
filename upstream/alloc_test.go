//go:build !race

package upstream

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// staticServer answers every request (heads only, no bodies) with resp,
// allocating nothing per request.
func staticServer(resp []byte) func(net.Conn, int) {
	return func(c net.Conn, _ int) {
		br := bufio.NewReader(c)
		for {
			for { // skip the request head
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	}
}

// chunkedResponse frames body as a chunked response, chunk bytes a chunk.
func chunkedResponse(body []byte, chunk int) []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
	for len(body) > 0 {
		n := min(chunk, len(body))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	b.WriteString("0\r\nX-Sum: 1\r\n\r\n")
	return b.Bytes()
}

func TestAllocs(t *testing.T) {
	big := pattern(1 << 20)
	u := startServer(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/big":
			ctx.SetBody(big)
		default:
			ctx.SetBodyString("hello, world!")
		}
	})
	chunked := startRaw(t, staticServer(chunkedResponse(big, 8000)))
	tests := []struct {
		desc string
		addr string
		give func(req *fasthttp.Request)
	}{
		{desc: "buffered GET", addr: u.addr, give: func(r *fasthttp.Request) { r.SetRequestURI("/small") }},
		{desc: "buffered POST (probed)", addr: u.addr, give: func(r *fasthttp.Request) {
			r.SetRequestURI("/small")
			r.Header.SetMethod(fasthttp.MethodPost)
			r.SetBodyString("payload")
		}},
		{desc: "streamed content-length", addr: u.addr, give: func(r *fasthttp.Request) { r.SetRequestURI("/big") }},
		{desc: "streamed chunked", addr: chunked.addr, give: func(r *fasthttp.Request) { r.SetRequestURI("/") }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := newClient(t, Settings{Addr: tt.addr})
			var req fasthttp.Request
			var resp fasthttp.Response
			req.Header.SetHost(tt.addr)
			tt.give(&req)
			var failed error
			do := func() {
				if err := c.Do(&req, &resp, time.Now().Add(5*time.Second)); err != nil {
					failed = err
					return
				}
				if resp.IsBodyStream() {
					if _, err := io.Copy(io.Discard, resp.BodyStream()); err != nil {
						failed = err
					}
					_ = resp.CloseBodyStream()
				}
			}
			do() // warm up the pools
			if allocs := testing.AllocsPerRun(200, do); allocs != 0 {
				t.Errorf("%v allocations per request, want 0", allocs)
			}
			if failed != nil {
				t.Fatal(failed)
			}
			if st := c.Stats(); st != (Stats{Open: 1, Idle: 1}) {
				t.Errorf("stats = %+v, want one connection reused throughout", st)
			}
		})
	}
}
