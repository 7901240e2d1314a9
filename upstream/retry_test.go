package upstream

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestStaleIdleConn: the upstream closes an idle keep-alive connection; the
// next request succeeds on a new one, by the transparent retry (replayable,
// idempotent requests) or because the liveness probe caught it (others).
func TestStaleIdleConn(t *testing.T) {
	tests := []struct {
		desc string
		give func(addr string) *fasthttp.Request
	}{
		{desc: "GET retried", give: func(addr string) *fasthttp.Request { return newGet(addr, "/") }},
		{desc: "POST with body probed", give: func(addr string) *fasthttp.Request {
			req := newGet(addr, "/")
			req.Header.SetMethod(fasthttp.MethodPost)
			req.SetBodyString("payload")
			return req
		}},
		{desc: "POST with body stream probed", give: func(addr string) *fasthttp.Request {
			req := newGet(addr, "/")
			req.Header.SetMethod(fasthttp.MethodPost)
			req.SetBodyStream(bytes.NewReader([]byte("payload")), 7)
			return req
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			u := startServerWith(t, &fasthttp.Server{
				Handler:     func(ctx *fasthttp.RequestCtx) { ctx.SetBody(ctx.Request.Body()) },
				IdleTimeout: 20 * time.Millisecond,
			})
			c := newClient(t, Settings{Addr: u.addr})
			var resp fasthttp.Response
			if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the upstream to close the idle connection", func() bool {
				return u.srv.GetOpenConnectionsCount() == 0
			})
			if c.Stats().Idle != 1 {
				t.Fatal("want the stale connection in the pool")
			}
			if err := c.Do(tt.give(u.addr), &resp, deadline(5e9)); err != nil {
				t.Fatalf("Do on a stale connection: %v", err)
			}
			if got := u.conns.Load(); got != 2 {
				t.Errorf("upstream saw %d connections, want 2", got)
			}
			if st := c.Stats(); st != (Stats{Open: 1, Idle: 1}) {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

// TestStrayBytesOnIdleConn: an upstream that writes more after a complete
// answer (here a whole second answer) leaves its connection out of step;
// a connection idle for probeAfter is probed before reuse, so the next
// request goes out on a new connection and gets its own answer, not the
// stray one.
func TestStrayBytesOnIdleConn(t *testing.T) {
	strayed := make(chan struct{})
	u := startRaw(t, func(c net.Conn, i int) {
		br := bufio.NewReader(c)
		for n := 0; ; n++ {
			req, ok := readRequest(br)
			if !ok {
				return
			}
			body := string(req.URI().Path())
			answer := "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
			if _, err := io.WriteString(c, answer); err != nil {
				return
			}
			if i == 0 && n == 0 {
				time.Sleep(5 * time.Millisecond)
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n/stray")
				close(strayed)
			}
		}
	})
	c := newClient(t, Settings{Addr: u.addr})
	var resp fasthttp.Response
	if err := c.Do(newGet(u.addr, "/first"), &resp, deadline(5e9)); err != nil || string(resp.Body()) != "/first" {
		t.Fatalf("first answer %q, %v", resp.Body(), err)
	}
	<-strayed // on loopback the bytes are in the client's socket once written
	time.Sleep(probeAfter)
	if err := c.Do(newGet(u.addr, "/second"), &resp, deadline(5e9)); err != nil || string(resp.Body()) != "/second" {
		t.Fatalf("second answer %q, %v; want /second", resp.Body(), err)
	}
	if got := u.conns.Load(); got != 2 {
		t.Errorf("upstream saw %d connections, want 2: the one out of step dropped", got)
	}
}

// dropSecond answers the first request on connection 0, then reads the
// second one and closes without answering; every other connection answers
// (or, with alsoDrop, drops every request too).
func dropSecond(requests *atomic.Int64, alsoDrop bool) func(net.Conn, int) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	return func(c net.Conn, i int) {
		br := bufio.NewReader(c)
		for n := 0; ; n++ {
			if _, good := readRequest(br); !good {
				return
			}
			requests.Add(1)
			if (i == 0 && n == 1) || (i > 0 && alsoDrop) {
				return
			}
			if _, err := io.WriteString(c, ok); err != nil {
				return
			}
		}
	}
}

func TestRetryOnlyWhenSafe(t *testing.T) {
	tests := []struct {
		desc         string
		give         func(req *fasthttp.Request)
		alsoDrop     bool // the retry's connection drops the request too
		want         error
		wantRequests int64 // requests the upstream read
	}{
		{desc: "GET is retried", give: func(*fasthttp.Request) {}, want: nil, wantRequests: 3},
		{desc: "HEAD is retried", give: func(r *fasthttp.Request) { r.Header.SetMethod(fasthttp.MethodHead) }, want: nil, wantRequests: 3},
		{desc: "retried only once", give: func(*fasthttp.Request) {}, alsoDrop: true, want: ErrReset, wantRequests: 3},
		{desc: "POST is not retried", give: func(r *fasthttp.Request) {
			r.Header.SetMethod(fasthttp.MethodPost)
			r.SetBodyString("x")
		}, want: ErrReset, wantRequests: 2},
		{desc: "POST with Idempotency-Key is retried", give: func(r *fasthttp.Request) {
			r.Header.SetMethod(fasthttp.MethodPost)
			r.Header.Set("Idempotency-Key", "k1")
			r.SetBodyString("x")
		}, want: nil, wantRequests: 3},
		{desc: "PUT is retried", give: func(r *fasthttp.Request) {
			r.Header.SetMethod(fasthttp.MethodPut)
			r.SetBodyString("x")
		}, want: nil, wantRequests: 3},
		{desc: "DELETE is retried", give: func(r *fasthttp.Request) { r.Header.SetMethod(fasthttp.MethodDelete) }, want: nil, wantRequests: 3},
		{desc: "PATCH is not retried", give: func(r *fasthttp.Request) {
			r.Header.SetMethod(fasthttp.MethodPatch)
			r.SetBodyString("x")
		}, want: ErrReset, wantRequests: 2},
		{desc: "POST with X-Idempotency-Key is not retried", give: func(r *fasthttp.Request) {
			r.Header.SetMethod(fasthttp.MethodPost)
			r.Header.Set("X-Idempotency-Key", "k1")
			r.SetBodyString("x")
		}, want: ErrReset, wantRequests: 2},
		{desc: "PUT with consumed body stream is not retried", give: func(r *fasthttp.Request) {
			r.Header.SetMethod(fasthttp.MethodPut)
			r.Header.Set("Idempotency-Key", "k1")
			r.SetBodyStream(bytes.NewReader([]byte("stream")), -1)
		}, want: ErrReset, wantRequests: 2},
		{desc: "POST with consumed body stream is not retried", give: func(r *fasthttp.Request) {
			r.Header.SetMethod(fasthttp.MethodPost)
			r.SetBodyStream(bytes.NewReader([]byte("stream")), 6)
		}, want: ErrReset, wantRequests: 2},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var requests atomic.Int64
			u := startRaw(t, dropSecond(&requests, tt.alsoDrop))
			c := newClient(t, Settings{Addr: u.addr})
			var resp fasthttp.Response
			if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
				t.Fatal(err)
			}
			req := newGet(u.addr, "/")
			tt.give(req)
			err := c.Do(req, &resp, deadline(5e9))
			if err != tt.want {
				t.Fatalf("Do = %v, want %v", err, tt.want)
			}
			if got := requests.Load(); got != tt.wantRequests {
				t.Errorf("upstream read %d requests, want %d", got, tt.wantRequests)
			}
			if st := c.Stats(); st.Busy != 0 {
				t.Errorf("stats = %+v, want nothing busy", st)
			}
		})
	}
}

// TestRetryAfterFailedWrite: the upstream reset a connection while it was
// idle, so writing on it fails at once; nothing was written, the request
// goes again on a new connection.
func TestRetryAfterFailedWrite(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	reset := make(chan struct{})
	u := startRaw(t, func(c net.Conn, i int) {
		br := bufio.NewReader(c)
		for {
			if _, good := readRequest(br); !good {
				return
			}
			if _, err := io.WriteString(c, ok); err != nil {
				return
			}
			if i == 0 {
				_ = c.(*net.TCPConn).SetLinger(0) // close with RST
				_ = c.Close()
				close(reset)
				return
			}
		}
	})
	c := newClient(t, Settings{Addr: u.addr})
	var resp fasthttp.Response
	if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
		t.Fatal(err)
	}
	<-reset
	time.Sleep(20 * time.Millisecond) // let the RST arrive
	if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
		t.Fatalf("Do on a reset connection: %v", err)
	}
	if got := u.conns.Load(); got != 2 {
		t.Errorf("upstream saw %d connections, want 2", got)
	}
}
