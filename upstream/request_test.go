package upstream

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestRequestBody: request bodies go up with a Content-Length when known,
// chunked otherwise, byte for byte.
func TestRequestBody(t *testing.T) {
	data := pattern(3<<20 + 17)
	type seen struct {
		cl   int
		te   string
		body []byte
	}
	got := make(chan seen, 1)
	u := startServerWith(t, &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			got <- seen{
				cl:   ctx.Request.Header.ContentLength(),
				te:   string(ctx.Request.Header.Peek("Transfer-Encoding")),
				body: append([]byte(nil), ctx.Request.Body()...),
			}
		},
		MaxRequestBodySize: 8 << 20,
	})
	tests := []struct {
		desc   string
		give   func(req *fasthttp.Request)
		wantCL int // -1: chunked
	}{
		{desc: "in memory", give: func(r *fasthttp.Request) { r.SetBody(data) }, wantCL: len(data)},
		{desc: "stream with known length", give: func(r *fasthttp.Request) {
			r.SetBodyStream(&chunky{r: bytes.NewReader(data), max: 10000}, len(data))
		}, wantCL: len(data)},
		{desc: "stream with unknown length", give: func(r *fasthttp.Request) {
			r.SetBodyStream(&chunky{r: bytes.NewReader(data), max: 10000}, -1)
		}, wantCL: -1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := newClient(t, Settings{Addr: u.addr})
			req := newGet(u.addr, "/up")
			req.Header.SetMethod(fasthttp.MethodPost)
			tt.give(req)
			var resp fasthttp.Response
			if err := c.Do(req, &resp, deadline(10e9)); err != nil {
				t.Fatal(err)
			}
			s := <-got
			if tt.wantCL == -1 {
				if s.te != "chunked" {
					t.Errorf("upstream saw Transfer-Encoding %q (Content-Length %d), want chunked", s.te, s.cl)
				}
			} else if s.cl != tt.wantCL || s.te != "" {
				t.Errorf("upstream saw Content-Length %d, Transfer-Encoding %q; want %d", s.cl, s.te, tt.wantCL)
			}
			if !bytes.Equal(s.body, data) {
				t.Errorf("upstream got %d bytes, not the %d sent", len(s.body), len(data))
			}
		})
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("client went away")
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

// TestRequestBodyFails: a failing request body is the request's fault,
// not the upstream's, and its connection is not reused.
func TestRequestBodyFails(t *testing.T) {
	u := startServer(t, func(ctx *fasthttp.RequestCtx) {})
	tests := []struct {
		desc string
		give io.Reader
		size int
	}{
		{desc: "read error", give: &failingReader{n: 100 << 10}, size: 1 << 20},
		{desc: "shorter than its Content-Length", give: bytes.NewReader(make([]byte, 10)), size: 20},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := newClient(t, Settings{Addr: u.addr})
			req := newGet(u.addr, "/")
			req.Header.SetMethod(fasthttp.MethodPost)
			req.SetBodyStream(tt.give, tt.size)
			var resp fasthttp.Response
			err := c.Do(req, &resp, deadline(5e9))
			if err != ErrRequest || KindOf(err) != Request {
				t.Fatalf("Do = %v, want ErrRequest", err)
			}
			if st := c.Stats(); st != (Stats{}) {
				t.Errorf("stats = %+v, want the connection closed", st)
			}
		})
	}
}
