package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/upstream"
)

// dropOnFirstConn answers every request but the second one on the first
// connection, which it reads and then closes without a word: the
// gateway's pooled connection turns out dead only once the request was
// sent.
func dropOnFirstConn(conns *atomic.Int64) func(net.Conn) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	return func(c net.Conn) {
		i := conns.Add(1) - 1
		br := bufio.NewReader(c)
		for n := 0; n < 100; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			if i == 0 && n == 1 {
				return
			}
			if _, err := io.WriteString(c, ok); err != nil {
				return
			}
		}
	}
}

// TestIdempotencyOneRule: the gateway's retry on another target after a
// refused connection and the upstream client's re-send after a pooled
// connection died under the request take the same requests, those that
// upstream.Idempotent names. X-Idempotency-Key is not Idempotency-Key.
func TestIdempotencyOneRule(t *testing.T) {
	tests := []struct {
		desc   string
		method string
		hdr    map[string]string
		want   bool
	}{
		{desc: "GET", method: "GET", want: true},
		{desc: "PUT", method: "PUT", want: true},
		{desc: "DELETE", method: "DELETE", want: true},
		{desc: "POST", method: "POST", want: false},
		{desc: "PATCH", method: "PATCH", want: false},
		{desc: "POST with Idempotency-Key", method: "POST", hdr: map[string]string{"Idempotency-Key": "k-1"}, want: true},
		{desc: "POST with X-Idempotency-Key", method: "POST", hdr: map[string]string{"X-Idempotency-Key": "k-1"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var req fasthttp.Request
			req.Header.SetMethod(tt.method)
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			if got := upstream.Idempotent(&req.Header); got != tt.want {
				t.Errorf("upstream.Idempotent = %v, want %v", got, tt.want)
			}

			live := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
			var conns atomic.Int64
			dropper := rawUpstream(t, dropOnFirstConn(&conns))
			gw := startGateway(t, `
routes:
  - name: refused
    match: { path: /refused }
    upstream: { targets: ["{UP1}", "{UP2}"], retries: 1, passive_health: { max_failures: 1000 } }
  - name: stale
    match: { path: /stale }
    upstream: { targets: ["{UP3}"], retries: 1 }
`, deadAddr(t), live, dropper)

			// Round robin: one of two requests is refused first.
			ok := 0
			for range 2 {
				if gw.do(t, tt.method, "/refused", tt.hdr, "x").StatusCode() == 200 {
					ok++
				}
			}
			if retried := ok == 2; retried != tt.want {
				t.Errorf("refused connection: %d of 2 answered, want retried on the other target = %v", ok, tt.want)
			}

			if s := gw.do(t, "GET", "/stale", nil, "").StatusCode(); s != 200 {
				t.Fatalf("first request: status %d", s)
			}
			// Without a body: a streamed body is never sent twice.
			head := tt.method + " /stale HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			for k, v := range tt.hdr {
				head += k + ": " + v + "\r\n"
			}
			status, _ := gw.raw(t, head+"\r\n")
			if resent := status == "HTTP/1.1 200 OK"; resent != tt.want {
				t.Errorf("connection died under the request: %q, want re-sent = %v", status, tt.want)
			}
		})
	}
}
