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
// oversized heads.
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
}

// TestSoak mixes good traffic with hostile requests for GATEWAY_SOAK (e.g.
// "10m"; `make soak` runs it) and checks that every good request is
// answered right and that goroutines and heap stay flat. It is long by
// design and does not run in make test.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("GATEWAY_SOAK"))
	if err != nil {
		t.Skip("set GATEWAY_SOAK to a duration (make soak runs 10m)")
	}
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString("ok " + string(ctx.Path()))
	})
	gw := startGateway(t, `
server: { read_timeout: 2s, idle_timeout: 5s }
access_log: { output: /dev/null }
routes:
  - { name: admin, match: { path_prefix: /admin }, respond: { status: 403, body: "no" } }
  - { name: api, match: { path_prefix: /api/ }, upstream: { targets: ["{UP1}"] } }
  - { name: limited, match: { path: /limited }, rate_limit: { rate: 100/s, burst: 10 }, respond: { body: "ok" } }
  - { name: all, match: { path_prefix: / }, upstream: { targets: ["{UP1}"] } }
`, up)

	var good, bad, wrong, hostile atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
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
				var req fasthttp.Request
				var resp fasthttp.Response
				req.SetRequestURI("http://" + gw.addr + path)
				if err := c.DoTimeout(&req, &resp, 5*time.Second); err != nil || resp.StatusCode() != 200 || string(resp.Body()) != "ok "+path {
					wrong.Add(1)
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
				status, _ := bufio.NewReader(c).ReadString('\n')
				c.Close()
				hostile.Add(1)
				if strings.HasPrefix(status, "HTTP/1.1 2") {
					bad.Add(1)
					t.Errorf("hostile request answered %q: %q", strings.TrimSpace(status), raw[:min(len(raw), 60)])
				}
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
	t.Logf("%d good requests, %d hostile; goroutines %d → max %d, heap %d KiB → max %d KiB",
		good.Load(), hostile.Load(), g0, maxG, h0>>10, maxH>>10)
	if wrong.Load() != 0 {
		t.Errorf("%d good requests answered wrongly", wrong.Load())
	}
	if good.Load() == 0 || hostile.Load() == 0 {
		t.Fatal("no traffic")
	}
	if maxG > g0+50 {
		t.Errorf("goroutines grew from %d to %d", g0, maxG)
	}
	if maxH > 2*h0+16<<20 {
		t.Errorf("heap grew from %d KiB to %d KiB", h0>>10, maxH>>10)
	}
}
