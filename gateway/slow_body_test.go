package gateway

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// Slow uploads as slowClient starts them: a chunked body's first chunk,
// or the first 70,000 bytes of a body of declared length (over what the
// gateway reads before the route's steps run, so that it streams too).
var (
	slowChunked = "Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n"
	slowLength  = "Content-Length: 200000\r\n\r\n" + strings.Repeat("a", 70000)
)

// slowClient opens a connection, sends a request head and the first part
// of its body (slowChunked or slowLength), and keeps the connection open.
// Its answer, if one comes, arrives on the returned channel ("" when the
// connection ended without).
func slowClient(t testing.TB, addr, path, start string) (net.Conn, <-chan string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: x\r\n"+start); err != nil {
		t.Fatal(err)
	}
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(c).ReadString('\n')
		answer <- strings.TrimSpace(line)
	}()
	return c, answer
}

// TestSlowBodiesCannotTakeThePool: clients trickling their bodies
// (chunked or of declared length) hold at most max_streamed_bodies
// upstream connections; the others get 503 at once, and good requests
// are still proxied.
func TestSlowBodiesCannotTakeThePool(t *testing.T) {
	var entered atomic.Int64
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		if r := ctx.RequestBodyStream(); r != nil {
			entered.Add(1)
			_, _ = io.Copy(io.Discard, r)
		}
		ctx.SetBodyString("ok")
	})
	gw := startGateway(t, `
routes:
  - name: r
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"], max_conns: 4, body_idle_timeout: 20s }
`, up)
	const slow = 6
	held, refused := 0, 0
	for i := range slow {
		before := entered.Load()
		start := slowChunked
		if i%2 == 1 {
			start = slowLength
		}
		_, answer := slowClient(t, gw.addr, "/upload", start)
		deadline := time.Now().Add(5 * time.Second)
	wait:
		for {
			select {
			case status := <-answer:
				if status != "HTTP/1.1 503 Service Unavailable" {
					t.Fatalf("slow client %d: answered %q, want 503 or no answer yet", i, status)
				}
				refused++
				break wait
			case <-time.After(5 * time.Millisecond):
				if entered.Load() > before {
					held++
					break wait
				}
				if time.Now().After(deadline) {
					t.Fatalf("slow client %d: neither forwarded nor refused", i)
				}
			}
		}
	}
	if held != 2 || refused != slow-2 {
		t.Errorf("%d slow clients forwarded, %d refused; want 2 (half of max_conns) and %d", held, refused, slow-2)
	}
	for i := range 10 {
		if resp := gw.do(t, "GET", "/good", nil, ""); resp.StatusCode() != 200 {
			t.Fatalf("good request %d while slow clients hold on: status %d %q", i, resp.StatusCode(), resp.Body())
		}
	}
}

// TestSlowBodyIdleTimeout: a client that stops sending its body (chunked
// or of declared length) gets 408 after body_idle_timeout, counted as its
// own error, and frees the upstream connection.
func TestSlowBodyIdleTimeout(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		if r := ctx.RequestBodyStream(); r != nil {
			_, _ = io.Copy(io.Discard, r)
		}
		ctx.SetBodyString("ok")
	})
	gw := startGateway(t, `
routes:
  - name: r
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"], max_conns: 1, body_idle_timeout: 100ms }
    circuit_breaker: { consecutive_failures: 1, open_for: 1m }
`, up)
	for i, start := range []string{slowChunked, slowLength, slowChunked, slowLength} {
		_, answer := slowClient(t, gw.addr, "/upload", start)
		select {
		case status := <-answer:
			if status != "HTTP/1.1 408 Request Timeout" {
				t.Fatalf("stalled client %d: answered %q, want 408", i, status)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("stalled client %d: no answer within 10s", i)
		}
	}
	if resp := gw.do(t, "GET", "/good", nil, ""); resp.StatusCode() != 200 {
		t.Fatalf("good request after stalled bodies: status %d %q", resp.StatusCode(), resp.Body())
	}
	if got := gw.metric(t, `gateway_client_errors_total{kind="timeout",route="r"}`); got != 4 {
		t.Errorf("client timeouts counted %v, want 4", got)
	}
}

// BenchmarkGoodBesideSlowBodies measures good requests to a route whose
// pool slow uploads try to take: alone, and beside 16 uploads that stall
// after their first piece (as many as max_streamed_bodies allows hold an
// upstream connection each, the others are refused). The ratio of the
// two is the cost of the attack to good requests; without a bound on
// streamed bodies they would get 503.
func BenchmarkGoodBesideSlowBodies(b *testing.B) {
	up := startUpstream(b, func(ctx *fasthttp.RequestCtx) {
		if r := ctx.RequestBodyStream(); r != nil {
			_, _ = io.Copy(io.Discard, r)
		}
		ctx.SetBodyString("ok")
	})
	for _, slow := range []int{0, 16} {
		b.Run("slow="+strconv.Itoa(slow), func(b *testing.B) {
			gw := startGateway(b, `
routes:
  - name: r
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"], max_conns: 8, body_idle_timeout: 10m }
`, up)
			var held []net.Conn
			for i := range slow {
				start := slowChunked
				if i%2 == 1 {
					start = slowLength
				}
				c, _ := slowClient(b, gw.addr, "/upload", start)
				held = append(held, c)
			}
			c := &fasthttp.Client{MaxConnsPerHost: 4}
			var req fasthttp.Request
			var resp fasthttp.Response
			req.SetRequestURI("http://" + gw.addr + "/good")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := c.DoTimeout(&req, &resp, 5*time.Second); err != nil || resp.StatusCode() != 200 {
					b.Fatalf("good request: %v, status %d %q", err, resp.StatusCode(), resp.Body())
				}
			}
			b.StopTimer()
			for _, c := range held {
				c.Close()
			}
		})
	}
}
