package gateway

import (
	"bufio"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// hostileRequests are requests a gateway must refuse, each on its own
// connection: smuggling, bad framing, paths that try to reach /admin,
// oversized heads, a header name with spaces, a version other than
// HTTP/1.x, TRACE, and an upstream that resets mid-body.
var hostileRequests = []string{
	"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd",
	"POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
	"GET /api/x HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
	"GET /pub%2F..%2Fadmin HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /pub/..%5Cadmin HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /admin;x HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /%252e%252e/admin HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /api/x HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 16<<10) + "\r\n\r\n",
	"GET /" + strings.Repeat("a", 8<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /api/x HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
	"POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=" + strings.Repeat("x", 20<<10) + "\r\nhello\r\n0\r\n\r\n",
	"GET /api/x HTTP/1.1\r\nHo", // a head cut off: the client goes away
	"GET /api/x HTTP/1.1\r\nHost: x\r\nX Forwarded For: 6.6.6.6\r\n\r\n",
	"GET /api/x HTTP/2.0\r\nHost: x\r\n\r\n",
	"TRACE /api/x HTTP/1.1\r\nHost: x\r\n\r\n",
	// The upstream resets in the middle of its body, before or after the
	// gateway began the answer.
	"GET /reset/x HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /reset/cut/x HTTP/1.1\r\nHost: x\r\n\r\n",
}

// clientFaults are requests to a breaker-guarded route whose fault is the
// client's alone, sent past the body the gateway reads ahead (so that the
// request is already on its way upstream) and then cut off: a malformed
// chunk, and a client gone in the middle of its body. The route's breaker
// must not open: good requests to it keep being answered.
var clientFaults = []string{
	"POST /guarded/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"11170\r\n" + strings.Repeat("a", 70000) + "\r\nzz\r\nhello\r\n0\r\n\r\n",
	"POST /guarded/x HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + strings.Repeat("a", 100000),
}

// resetUpstream answers every request with a head and half its body (of
// 10,000 bytes, above bufferedBodyMax, so that the gateway streams it),
// then resets the connection: at once, which the gateway answers with
// 502 since nothing reached the client yet; or, for /reset/cut/, once cut
// says the client has the head (or after 5s), so that the gateway must
// cut the answer it has begun.
func resetUpstream(t *testing.T, cut <-chan struct{}) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				r := bufio.NewReader(c)
				first, _ := r.ReadString('\n')
				for {
					line, err := r.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n"+strings.Repeat("b", 5000))
				if strings.HasPrefix(first, "GET /reset/cut/") {
					select {
					case <-cut:
					case <-time.After(5 * time.Second):
					}
				}
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return "http://" + ln.Addr().String()
}

// TestSoak mixes good traffic with hostile requests for GATEWAY_SOAK (e.g.
// "10m"; `make soak` runs it) and checks that every good request is
// answered right and that goroutines and heap stay flat. Beside it, on
// Linux, a gateway in a child process with a low open-file limit runs out
// of descriptors every few seconds (soak_fd_linux_test.go). It is long by
// design and does not run in make test.
func TestSoak(t *testing.T) {
	if soakFDChild() {
		return
	}
	d, err := time.ParseDuration(os.Getenv("GATEWAY_SOAK"))
	if err != nil {
		t.Skip("set GATEWAY_SOAK to a duration (make soak runs 10m)")
	}
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		// The client address the upstream is told, which good clients
		// try to forge.
		h := &ctx.Request.Header
		if strings.HasPrefix(string(ctx.Path()), "/slow/") {
			// Read the body as a real service would, so that a slow one
			// holds the upstream connection.
			if body := ctx.RequestBodyStream(); body != nil {
				_, _ = io.Copy(io.Discard, body)
			}
		}
		if len(h.Peek("True-Client-IP")) > 0 {
			ctx.SetBodyString("forged True-Client-IP")
			return
		}
		ctx.SetBodyString("ok " + string(ctx.Path()) + " " + string(h.Peek("X-Real-IP")))
	})
	// A hostile client that got the head of a /reset/cut/ answer tells
	// the upstream to reset.
	resetNow := make(chan struct{}, 2)
	gw := startGateway(t, `
server: { read_timeout: 2s, idle_timeout: 5s }
access_log: { output: /dev/null }
routes:
  - { name: admin, match: { path_prefix: /admin }, respond: { status: 403, body: "no" } }
  - { name: api, match: { path_prefix: /api/ }, upstream: { targets: ["{UP1}"] } }
  - name: guarded
    match: { path_prefix: /guarded/ }
    upstream: { targets: ["{UP1}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 5, open_for: 1m }
  - name: slow
    match: { path_prefix: /slow/ }
    upstream: { targets: ["{UP1}"], max_conns: 4, body_idle_timeout: 500ms }
  - { name: reset, match: { path_prefix: /reset/ }, upstream: { targets: ["{UP2}"], retries: 0 } }
  - { name: limited, match: { path: /limited }, rate_limit: { rate: 100/s, burst: 10 }, respond: { body: "ok" } }
  - { name: all, match: { path_prefix: / }, upstream: { targets: ["{UP1}"] } }
`, up, resetUpstream(t, resetNow))

	var good, bad, wrong, hostile atomic.Int64
	var reset502, resetCut atomic.Int64 // answers to the mid-body resets
	stop := make(chan struct{})
	var wg sync.WaitGroup
	fds := startFDSoak(t, up)
	wg.Go(func() { fds.run(t, stop) })
	for w := range 4 { // good clients on keep-alive connections
		wg.Go(func() {
			c := &fasthttp.Client{MaxConnsPerHost: 4}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := "/api/" + string(rune('a'+w)) + "/" + itoa3(i%1000)
				switch w {
				case 0:
					path = "/guarded/" + itoa3(i%1000)
				case 1:
					path = "/slow/" + itoa3(i%1000)
				}
				var req fasthttp.Request
				var resp fasthttp.Response
				req.SetRequestURI("http://" + gw.addr + path)
				req.Header.Set("X-Real-IP", "6.6.6.6")
				req.Header.Set("True-Client-IP", "6.6.6.6")
				if err := c.DoTimeout(&req, &resp, 5*time.Second); err != nil || resp.StatusCode() != 200 ||
					string(resp.Body()) != "ok "+path+" 127.0.0.1" || len(resp.Header.Peek("X-Request-Id")) == 0 {
					if wrong.Add(1) <= 3 {
						t.Logf("%s: status %d, body %.60q, error %v", path, resp.StatusCode(), resp.Body(), err)
					}
					continue
				}
				good.Add(1)
			}
		})
	}
	for range 2 { // hostile clients, one connection per request
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				raw := hostileRequests[i%len(hostileRequests)]
				c, err := net.DialTimeout("tcp", gw.addr, 2*time.Second)
				if err != nil {
					continue
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_, _ = io.WriteString(c, raw)
				br := bufio.NewReader(c)
				status, _ := br.ReadString('\n')
				hostile.Add(1)
				if strings.HasPrefix(raw, "GET /reset/") {
					switch {
					case strings.HasPrefix(status, "HTTP/1.1 502"):
						reset502.Add(1)
					case strings.HasPrefix(raw, "GET /reset/cut/") && strings.HasPrefix(status, "HTTP/1.1 200"):
						// Begun: the upstream resets now, and the rest of
						// the answer must never come.
						select {
						case resetNow <- struct{}{}:
						default:
						}
						rest, _ := io.ReadAll(br)
						if _, body, _ := strings.Cut(string(rest), "\r\n\r\n"); len(body) >= 10000 {
							t.Errorf("an answer the upstream reset mid-body came whole")
						}
						resetCut.Add(1) // cut off: counted as aborted
						status = ""
					case status == "":
						resetCut.Add(1) // streamed and cut off: counted as aborted
					default:
						t.Errorf("a mid-body upstream reset answered %q, want 502 or a closed connection", strings.TrimSpace(status))
					}
				}
				c.Close()
				if strings.HasPrefix(status, "HTTP/1.1 2") {
					bad.Add(1)
					t.Errorf("hostile request answered %q: %q", strings.TrimSpace(status), raw[:min(len(raw), 60)])
				}
			}
		})
	}

	wg.Go(func() { // client faults against the guarded route
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c, err := net.DialTimeout("tcp", gw.addr, 2*time.Second)
			if err != nil {
				continue
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.WriteString(c, clientFaults[i%len(clientFaults)])
			c.Close()
			hostile.Add(1)
			time.Sleep(10 * time.Millisecond)
		}
	})
	var slowCut, slowRefused atomic.Int64
	for range 4 { // slow bodies: more than the slow route lets stream at once
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				slowBody(t, gw.addr, stop, &slowCut, &slowRefused)
				hostile.Add(1)
			}
		})
	}

	sample := func() (goroutines int, heap uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapInuse
	}
	time.Sleep(min(d/10, 30*time.Second)) // warm up pools and connections
	g0, h0 := sample()
	deadline := time.Now().Add(d)
	maxG, maxH := g0, h0
	for time.Now().Before(deadline) {
		time.Sleep(min(10*time.Second, time.Until(deadline)))
		g, h := sample()
		maxG, maxH = max(maxG, g), max(maxH, h)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d good requests, %d hostile (%d slow bodies cut, %d refused); goroutines %d → max %d, heap %d KiB → max %d KiB",
		good.Load(), hostile.Load(), slowCut.Load(), slowRefused.Load(), g0, maxG, h0>>10, maxH>>10)
	fds.report(t)
	t.Logf("mid-body resets: %d answered 502, %d cut off", reset502.Load(), resetCut.Load())
	checkSoakMetrics(t, gw, resetCut.Load())
	if wrong.Load() != 0 {
		t.Errorf("%d good requests answered wrongly", wrong.Load())
	}
	if good.Load() == 0 || hostile.Load() == 0 {
		t.Fatal("no traffic")
	}
	if slowCut.Load() == 0 {
		t.Error("no slow body was cut off with 408")
	}
	if slowRefused.Load() == 0 {
		t.Error("the slow bodies never took all the streams the slow route allows: its good requests were not put to the test")
	}
	if resetCut.Load() == 0 {
		t.Error("no answer the upstream reset mid-body was cut off after it began")
	}
	if maxG > g0+50 {
		t.Errorf("goroutines grew from %d to %d", g0, maxG)
	}
	if maxH > 2*h0+16<<20 {
		t.Errorf("heap grew from %d KiB to %d KiB", h0>>10, maxH>>10)
	}
}

// slowBody trickles a chunked body to the slow route, one chunk every
// 100 ms (within its body_idle_timeout) for a second, then stalls: the
// gateway must cut it off with 408, or refuse it with 503 when the route
// already streams as many bodies as it allows.
func slowBody(t *testing.T, addr string, stop <-chan struct{}, cut, refused *atomic.Int64) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(c, "POST /slow/body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for n := 0; err == nil && n < 10; n++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		_, err = io.WriteString(c, "1\r\na\r\n")
	}
	status, _ := bufio.NewReader(c).ReadString('\n')
	switch {
	case strings.HasPrefix(status, "HTTP/1.1 408"):
		cut.Add(1)
	case strings.HasPrefix(status, "HTTP/1.1 503"):
		refused.Add(1)
	case strings.HasPrefix(status, "HTTP/1.1 2"):
		t.Errorf("a stalled body was answered %q", strings.TrimSpace(status))
	}
}

// checkSoakMetrics checks that the faults the soak sends were seen as
// what they are: the client faults as the client's, leaving the guarded
// route's breaker closed, and the mid-body resets as the upstream's,
// each of the cut ones counted as aborted.
func checkSoakMetrics(t *testing.T, gw *testGateway, resetCut int64) {
	for _, series := range []string{
		`gateway_client_errors_total{kind="malformed",route="guarded"}`,
		`gateway_client_errors_total{kind="disconnect",route="guarded"}`,
		`gateway_upstream_errors_total{kind="reset",route="reset"}`,
	} {
		if v := gw.metric(t, series); v <= 0 {
			t.Errorf("%s = %g, want > 0", series, v)
		}
	}
	if resetCut > 0 {
		if v := gw.metric(t, `gateway_requests_total{code="aborted",method="GET",route="reset"}`); v < float64(resetCut) {
			t.Errorf("%d mid-body resets cut off, %g counted as aborted", resetCut, v)
		}
	}
	if v := gw.metric(t, `gateway_breaker_state{route="guarded"}`); v != 0 {
		t.Errorf("the guarded route's breaker is in state %g after client faults, want 0 (closed)", v)
	}
}
