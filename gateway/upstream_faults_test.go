package gateway

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// countingUpstream answers every request on its connections with answer,
// counting connections and requests.
type countingUpstream struct {
	conns, requests atomic.Int64
}

func (u *countingUpstream) start(t *testing.T, answer func(c net.Conn, n int64)) string {
	return rawUpstream(t, func(c net.Conn) {
		u.conns.Add(1)
		br := bufio.NewReader(c)
		for {
			var req fasthttp.Request
			if err := req.Read(br); err != nil {
				return
			}
			answer(c, u.requests.Add(1))
		}
	})
}

func TestUpstreamFaults(t *testing.T) {
	conflicting := rawUpstream(t, func(c net.Conn) {
		_, _ = bufio.NewReader(c).ReadString('\n')
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nSECRET\r\n0\r\n\r\n")
	})
	twoLengths := rawUpstream(t, func(c net.Conn) {
		_, _ = bufio.NewReader(c).ReadString('\n')
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nContent-Length: 7\r\n\r\nSECRET!")
	})
	big := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(strings.Repeat("x", 2048)) })
	gw := startGateway(t, `
routes:
  - { name: conflicting, match: { path: /conflicting }, upstream: { targets: ["{UP1}"], retries: 0 } }
  - { name: two-lengths, match: { path: /two-lengths }, upstream: { targets: ["{UP2}"], retries: 0 } }
  - { name: big, match: { path: /big }, upstream: { targets: ["{UP3}"], max_response_size: 1KiB } }
`, conflicting, twoLengths, big)
	for _, tt := range []struct {
		desc, path string
	}{
		{desc: "Content-Length and Transfer-Encoding from the upstream", path: "/conflicting"},
		{desc: "two different Content-Lengths from the upstream", path: "/two-lengths"},
		{desc: "a body over max_response_size", path: "/big"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			resp := gw.do(t, "GET", tt.path, nil, "")
			if resp.StatusCode() != 502 || strings.Contains(string(resp.Body()), "SECRET") || strings.Contains(string(resp.Body()), "xxx") {
				t.Errorf("status %d body %q: want 502 with the gateway's own body", resp.StatusCode(), resp.Body())
			}
		})
	}
	if got := gw.metric(t, `gateway_upstream_errors_total{kind="too_large",route="big"}`); got != 1 {
		t.Errorf("too_large errors counted %v, want 1", got)
	}
}

// TestUpstreamChunkedOverLimit: a chunked answer that grows past
// max_response_size after its head went out is cut off: the client's
// connection is closed before a complete body.
func TestUpstreamChunkedOverLimit(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			for range 64 {
				_, _ = w.WriteString(strings.Repeat("y", 1024))
				_ = w.Flush()
			}
		})
	})
	gw := startGateway(t, `
routes:
  - { name: big, match: { path: /big }, upstream: { targets: ["{UP1}"], max_response_size: 8KiB } }
`, up)
	status, resp := gw.raw(t, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	if status != "HTTP/1.1 200 OK" || strings.HasSuffix(resp, "0\r\n\r\n") || strings.Count(resp, "y") > 16<<10 {
		t.Errorf("status %s, %d bytes of body, ends %q: want the answer cut off", status, strings.Count(resp, "y"), resp[max(0, len(resp)-10):])
	}
}

// TestUpstreamResetMidBody: the upstream resets after part of the body:
// the client's connection is aborted, the upstream connection is not
// pooled, and the next request works on a new one.
func TestUpstreamResetMidBody(t *testing.T) {
	var u countingUpstream
	addr := u.start(t, func(c net.Conn, n int64) {
		if n == 1 {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial")
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	gw := startGateway(t, `
routes:
  - { name: r, match: { path_prefix: / }, upstream: { targets: ["{UP1}"], retries: 0 } }
`, addr)
	// raw returns once the gateway closed the connection: whatever part of
	// the answer was flushed before the reset, never all of it.
	if _, resp := gw.raw(t, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"); len(resp) >= 100000 {
		t.Fatalf("%d bytes: want the answer aborted", len(resp))
	}
	if resp := gw.do(t, "GET", "/b", nil, ""); resp.StatusCode() != 200 || string(resp.Body()) != "ok" {
		t.Fatalf("next request: status %d body %q", resp.StatusCode(), resp.Body())
	}
	if got := u.conns.Load(); got != 2 {
		t.Errorf("upstream saw %d connections, want 2: the reset one must not be reused", got)
	}
}

// TestUpstreamHangNotReused: after a 504 the hung connection is closed,
// never handed to the next request.
func TestUpstreamHangNotReused(t *testing.T) {
	var u countingUpstream
	release := make(chan struct{})
	addr := u.start(t, func(c net.Conn, n int64) {
		if n == 1 {
			<-release
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	defer close(release)
	gw := startGateway(t, `
routes:
  - { name: r, match: { path_prefix: / }, upstream: { targets: ["{UP1}"], retries: 0, timeout: 300ms } }
`, addr)
	if resp := gw.do(t, "GET", "/a", nil, ""); resp.StatusCode() != 504 {
		t.Fatalf("hung upstream: status %d, want 504", resp.StatusCode())
	}
	if resp := gw.do(t, "GET", "/b", nil, ""); resp.StatusCode() != 200 {
		t.Fatalf("next request: status %d, want 200 on a new connection", resp.StatusCode())
	}
	if got := u.conns.Load(); got != 2 {
		t.Errorf("upstream saw %d connections, want 2", got)
	}
}

// TestPoolExhausted: with every connection busy past conn_wait, 503.
func TestPoolExhausted(t *testing.T) {
	// The upstream holds the first request, and so the one connection,
	// until the second has been refused.
	arrived, release := make(chan struct{}), make(chan struct{})
	var arrive, let sync.Once
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		arrive.Do(func() { close(arrived) })
		<-release
		ctx.SetBodyString("slow")
	})
	letGo := func() { let.Do(func() { close(release) }) }
	t.Cleanup(letGo)
	gw := startGateway(t, `
routes:
  - { name: r, match: { path_prefix: / }, upstream: { targets: ["{UP1}"], max_conns: 1, conn_wait: 50ms, timeout: 10s } }
`, up)
	first := make(chan int, 1)
	go func() {
		c := &fasthttp.Client{MaxIdemponentCallAttempts: 1, ReadTimeout: 10 * time.Second}
		status, _, err := c.Get(nil, "http://"+gw.addr+"/")
		if err != nil {
			status = -1
		}
		first <- status
	}()
	select {
	case <-arrived:
	case s := <-first:
		t.Fatalf("first request: status %d before it reached the upstream", s)
	}
	if s := gw.do(t, "GET", "/", nil, "").StatusCode(); s != 503 {
		t.Errorf("second request with the one connection busy: status %d, want 503", s)
	}
	letGo()
	if s := <-first; s != 200 {
		t.Errorf("first request: status %d, want 200", s)
	}
}

// TestRetriesIdempotencyKeyAndBudget: a POST is moved to another target
// after a refused connection only with an Idempotency-Key, and retries in
// flight stay within the retry budget.
func TestRetriesIdempotencyKeyAndBudget(t *testing.T) {
	dead := deadAddr(t)
	// During a burst the live target holds every request until each of
	// the burst's requests has either reached it or failed, so that the
	// retries are in flight together however slow the machine.
	var arrivals atomic.Int64
	open := make(chan struct{})
	close(open)
	var gate atomic.Pointer[chan struct{}]
	gate.Store(&open)
	slow := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		arrivals.Add(1)
		<-*gate.Load()
		ctx.SetBodyString("ok")
	})
	gw := startGateway(t, `
routes:
  - name: generous
    match: { path: /generous }
    upstream: { targets: ["{UP1}", "{UP2}"], retries: 1, retry_budget: 1, passive_health: { max_failures: 1000 } }
  - name: tight
    match: { path: /tight }
    upstream: { targets: ["{UP1}", "{UP2}"], retries: 1, retry_budget: 0, passive_health: { max_failures: 1000 } }
`, dead, slow)
	key := map[string]string{"Idempotency-Key": "k-1"}
	// Round robin: the first request of each route goes to the dead target.
	if resp := gw.do(t, "POST", "/generous", nil, "x"); resp.StatusCode() != 502 {
		t.Errorf("POST without a key: status %d, want 502 (not retried)", resp.StatusCode())
	}
	gw.do(t, "POST", "/generous", key, "x") // to the live target
	if resp := gw.do(t, "POST", "/generous", key, "x"); resp.StatusCode() != 200 {
		t.Errorf("POST with an Idempotency-Key: status %d, want 200 from the other target", resp.StatusCode())
	}

	burst := func(path string) (failed int64) {
		const size = 16
		held := make(chan struct{})
		gate.Store(&held)
		var release sync.Once
		let := func() { release.Do(func() { close(held) }) }
		defer let()
		from := arrivals.Load()
		var wg sync.WaitGroup
		var n atomic.Int64
		for range size {
			wg.Go(func() {
				if gw.do(t, "GET", path, nil, "").StatusCode() != 200 {
					n.Add(1)
				}
			})
		}
		waitFor(t, 10*time.Second, func() bool { return arrivals.Load()-from+n.Load() >= size })
		let()
		wg.Wait()
		gate.Store(&open)
		return n.Load()
	}
	if failed := burst("/generous"); failed != 0 {
		t.Errorf("budget 1: %d of 16 failed, want every refused attempt retried", failed)
	}
	if failed := burst("/tight"); failed == 0 {
		t.Error("budget 0: every request retried, want at most 3 retries in flight and the rest 502")
	}
}

// TestUpstreamBrokenAfterHead: an upstream that resets, sends a bad
// chunk or ends its connection without the body its head promised, before
// any byte reached the client, gets the client a 502, and counts as an
// upstream failure everywhere: the request metric, the upstream error
// counter, the breaker (of the route, or of the target). A small body
// (up to bufferedBodyMax) is read whole before the answer starts, so
// one that ends short after its first bytes is a 502 too.
func TestUpstreamBrokenAfterHead(t *testing.T) {
	reset := rawUpstream(t, func(c net.Conn) {
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	})
	badChunk := rawUpstream(t, func(c net.Conn) {
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nSECRET\r\n0\r\n\r\n")
	})
	short := rawUpstream(t, func(c net.Conn) {
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			return
		}
		// The head promises a body; the connection ends (FIN) without it.
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
	})
	shortSmall := rawUpstream(t, func(c net.Conn) {
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			return
		}
		// Part of the body, then the end a moment later: a streamed
		// answer would have started by then.
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nSECRET")
		time.Sleep(50 * time.Millisecond)
	})
	gw := startGateway(t, `
routes:
  - name: reset
    match: { path: /reset }
    upstream: { targets: ["{UP1}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 3, open_for: 1m }
  - name: bad-chunk
    match: { path: /bad-chunk }
    upstream: { targets: ["{UP2}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 3, open_for: 1m }
  - name: short
    match: { path: /short }
    upstream: { targets: ["{UP3}"], retries: 0 }
    circuit_breaker: { per: target, consecutive_failures: 3, open_for: 1m }
  - name: short-small
    match: { path: /short-small }
    upstream: { targets: ["{UP4}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 3, open_for: 1m }
`, reset, badChunk, short, shortSmall)
	for _, tt := range []struct{ route, kind string }{{"reset", "reset"}, {"bad-chunk", "protocol"}, {"short", "reset"}, {"short-small", "reset"}} {
		t.Run(tt.route, func(t *testing.T) {
			for i := range 3 {
				status, resp := gw.raw(t, "GET /"+tt.route+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				if status != "HTTP/1.1 502 Bad Gateway" || strings.Contains(resp, "SECRET") {
					t.Fatalf("request %d: status %q: want the gateway's 502", i, status)
				}
			}
			if status, _ := gw.raw(t, "GET /"+tt.route+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); status != "HTTP/1.1 503 Service Unavailable" {
				t.Errorf("after 3 failures: status %q, want 503 (breaker open)", status)
			}
			if got := gw.metric(t, `gateway_upstream_errors_total{kind="`+tt.kind+`",route="`+tt.route+`"}`); got != 3 {
				t.Errorf("upstream errors of kind %s: %v, want 3", tt.kind, got)
			}
			if got := gw.metric(t, `gateway_requests_total{code="502",method="GET",route="`+tt.route+`"}`); got != 3 {
				t.Errorf("requests counted 502: %v, want 3", got)
			}
			if got := gw.metric(t, `gateway_requests_total{code="200",method="GET",route="`+tt.route+`"}`); got != -1 {
				t.Errorf("requests counted 200: %v, want none", got)
			}
		})
	}
}

// TestUpstreamBrokenMidBody: an answer the upstream breaks after part of
// it reached the client (a bad chunk, or a connection ended short of the
// declared length) is aborted, and counted as an upstream failure: code
// "aborted" in the request counter, the upstream error counter and the
// breaker (of the route, or of the target) learn it.
func TestUpstreamBrokenMidBody(t *testing.T) {
	sent := make(chan struct{}, 4)
	// breakAfter writes head and first, waits until the client has first,
	// then writes rest (if any) and ends the connection.
	breakAfter := func(head, first, rest string) string {
		return rawUpstream(t, func(c net.Conn) {
			if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
				return
			}
			_, _ = io.WriteString(c, head+first)
			select {
			case <-sent: // the client has the first piece
			case <-time.After(5 * time.Second):
			}
			_, _ = io.WriteString(c, rest)
		})
	}
	badChunk := breakAfter("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "6\r\nhello\n\r\n", "zz\r\nbroken\r\n")
	// More than the server's write buffer, so that the client gets some.
	first := "hello\n" + strings.Repeat("a", 100000)
	short := breakAfter("HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n", first, "")
	gw := startGateway(t, `
routes:
  - name: r
    match: { path: /r }
    upstream: { targets: ["{UP1}"], retries: 0 }
    circuit_breaker: { failure_ratio: 0.5, min_requests: 4, open_for: 1m }
  - name: short
    match: { path: /short }
    upstream: { targets: ["{UP2}"], retries: 0 }
    circuit_breaker: { per: target, failure_ratio: 0.5, min_requests: 4, open_for: 1m }
`, badChunk, short)
	for _, tt := range []struct {
		route, kind string
		complete    func(rest string) bool // whether the answer ended right
	}{
		{route: "r", kind: "protocol", complete: func(rest string) bool { return strings.Contains(rest, "0\r\n\r\n") }},
		{route: "short", kind: "reset", complete: func(rest string) bool { return len(rest) >= 300000-len("hello\n") }},
	} {
		t.Run(tt.route, func(t *testing.T) {
			for i := range 2 {
				c, err := net.DialTimeout("tcp", gw.addr, 2*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_, _ = io.WriteString(c, "GET /"+tt.route+" HTTP/1.1\r\nHost: x\r\n\r\n")
				br := bufio.NewReader(c)
				var got strings.Builder
				for !strings.Contains(got.String(), "hello") {
					line, err := br.ReadString('\n')
					got.WriteString(line)
					if err != nil {
						t.Fatalf("request %d: %v before the first piece; got %q", i, err, got.String())
					}
				}
				sent <- struct{}{}
				rest, _ := io.ReadAll(br)
				c.Close()
				if !strings.HasPrefix(got.String(), "HTTP/1.1 200 OK") || tt.complete(string(rest)) {
					t.Fatalf("request %d: %q then %d bytes: want the answer aborted", i, got.String(), len(rest))
				}
			}
			if got := gw.metric(t, `gateway_upstream_errors_total{kind="`+tt.kind+`",route="`+tt.route+`"}`); got != 2 {
				t.Errorf("%s errors counted %v, want 2", tt.kind, got)
			}
			if got := gw.metric(t, `gateway_requests_total{code="aborted",method="GET",route="`+tt.route+`"}`); got != 2 {
				t.Errorf("requests counted aborted: %v, want 2", got)
			}
			if got := gw.metric(t, `gateway_requests_total{code="200",method="GET",route="`+tt.route+`"}`); got != -1 {
				t.Errorf("requests counted 200: %v, want none", got)
			}
			if status, _ := gw.raw(t, "GET /"+tt.route+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); status != "HTTP/1.1 503 Service Unavailable" {
				t.Errorf("after 2 broken answers: status %q, want 503 (breaker open)", status)
			}
		})
	}
}
