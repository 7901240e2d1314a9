package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// pattern is an endless generated body: no file, no big buffer.
type pattern struct{ left int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	p.left -= int64(len(b))
	return len(b), nil
}

// heapWatch samples the heap in use until stopped and returns the peak.
func heapWatch() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak.Load() }
}

// streamDeadline bounds a gigabyte transfer by the test binary's own
// deadline rather than a guess: under -race on a loaded machine a
// gigabyte can take minutes, and the gateway's default 60s server
// timeouts (which the stream tests lift to 1h) used to cut it off.
func streamDeadline(t *testing.T) time.Time {
	if d, ok := t.Deadline(); ok {
		return d.Add(-5 * time.Second)
	}
	return time.Now().Add(time.Hour)
}

// heapBound is what the whole test process, client, gateway and upstream,
// may hold while streamSize bytes pass through: below the body size.
const heapBound = 96 << 20

// testStreamDownload sends streamSize bytes from the upstream to the
// client and watches the heap meanwhile.
func testStreamDownload(t *testing.T) {
	if testing.Short() {
		t.Skip("moves a large body")
	}
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyStream(&pattern{left: streamSize}, streamSize)
	})
	gw := startGateway(t, `
server: { read_timeout: 1h, write_timeout: 1h }
routes:
  - { name: big, match: { path: /big }, upstream: { targets: ["{UP1}"], timeout: 10s } }
`, up)
	runtime.GC()
	stop := heapWatch()
	c, err := net.Dial("tcp", gw.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(streamDeadline(t))
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReaderSize(c, 64<<10)
	var resp fasthttp.ResponseHeader
	if err := resp.Read(br); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 200 || resp.ContentLength() != streamSize {
		t.Fatalf("status %d, length %d", resp.StatusCode(), resp.ContentLength())
	}
	n, err := io.Copy(io.Discard, io.LimitReader(br, streamSize))
	peak := stop()
	if err != nil || n != streamSize {
		t.Fatalf("read %d bytes (%v), want %d", n, err, streamSize)
	}
	if peak > heapBound {
		t.Errorf("heap peaked at %d MiB while streaming %d MiB, want under %d MiB", peak>>20, streamSize>>20, heapBound>>20)
	}
}

// testStreamUpload sends streamSize bytes from the client to the
// upstream and watches the heap meanwhile.
func testStreamUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("moves a large body")
	}
	var got atomic.Int64
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		n, _ := io.Copy(io.Discard, ctx.RequestBodyStream())
		got.Store(n)
		ctx.SetBodyString(strconv.FormatInt(n, 10))
	})
	gw := startGateway(t, `
server: { max_body_size: 2GiB, read_timeout: 1h, write_timeout: 1h }
routes:
  - { name: up, match: { path: /up }, upstream: { targets: ["{UP1}"], timeout: 1h } }
`, up)
	runtime.GC()
	stop := heapWatch()
	c, err := net.Dial("tcp", gw.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(streamDeadline(t))
	fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", streamSize)
	if _, err := io.Copy(c, &pattern{left: streamSize}); err != nil {
		t.Fatal(err)
	}
	var resp fasthttp.Response
	if err := resp.Read(bufio.NewReader(c)); err != nil {
		t.Fatal(err)
	}
	peak := stop()
	if resp.StatusCode() != 200 || got.Load() != streamSize {
		t.Fatalf("status %d, upstream got %d bytes, want %d", resp.StatusCode(), got.Load(), streamSize)
	}
	if peak > heapBound {
		t.Errorf("heap peaked at %d MiB while streaming %d MiB up, want under %d MiB", peak>>20, streamSize>>20, heapBound>>20)
	}
}

func TestGracefulDrain(t *testing.T) {
	// The upstream holds the request until the test has seen the drain
	// begin, so the request is in flight for certain, however slow the
	// machine.
	arrived, release := make(chan struct{}), make(chan struct{})
	var once, arrive sync.Once
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		arrive.Do(func() { close(arrived) })
		<-release
		ctx.SetBodyString("finished")
	})
	let := func() { once.Do(func() { close(release) }) }
	t.Cleanup(let) // runs before the upstream's own cleanup waits for it
	gw := startGateway(t, `
routes:
  - { name: slow, match: { path: /slow }, upstream: { targets: ["{UP1}"] } }
`, up)
	type result struct {
		status int
		body   string
	}
	res := make(chan result, 1)
	go func() {
		c := &fasthttp.Client{}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://" + gw.addr + "/slow")
		err := c.Do(req, resp)
		if err != nil {
			res <- result{status: -1, body: err.Error()}
			return
		}
		res <- result{resp.StatusCode(), string(resp.Body())}
	}()
	select {
	case <-arrived:
	case r := <-res:
		t.Fatalf("the request never reached the upstream: %d %s", r.status, r.body)
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the upstream within 10s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- gw.Shutdown(ctx) }()

	waitFor(t, 5*time.Second, func() bool { return !gw.Ready() }) // not ready once draining
	// The listener closes soon after; until the request is released the
	// gateway is still draining, so a refused dial is refused while
	// draining.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", gw.addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("new connections still accepted 5s into the drain")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case r := <-res:
		t.Fatalf("the in-flight request ended before its upstream answered: %d %s", r.status, r.body)
	case err := <-shutdownDone:
		t.Fatalf("shutdown returned %v with a request in flight", err)
	default:
	}
	let()
	var r result
	select {
	case r = <-res:
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight request got no answer within 10s of its upstream's")
	}
	if r.status != 200 || r.body != "finished" {
		t.Errorf("in-flight request: %d %q, want 200 finished", r.status, r.body)
	}
	if err := <-shutdownDone; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func TestAdminEndpoints(t *testing.T) {
	up := startUpstream(t, echoHeaders)
	gw := startGateway(t, `
routes:
  - name: api
    match: { path_prefix: /api/ }
    request_headers: { set: { Authorization: "Bearer topsecret" } }
    upstream: { targets: ["{UP1}"] }
`, up)
	gw.do(t, "GET", "/api/a", nil, "")
	gw.do(t, "GET", "/api/a", nil, "")
	gw.do(t, "POST", "/missing", nil, "")

	metrics := httpGet(t, gw.admin+"/metrics")
	for _, want := range []string{
		`gateway_requests_total{code="200",method="GET",route="api"} 2`,
		`gateway_requests_total{code="404",method="POST",route=""} 1`,
		`gateway_request_duration_seconds_count{route="api"} 2`,
		`gateway_requests_in_flight{route="api"} 0`,
		`gateway_config_reloads_total{result="success"} 1`,
		`gateway_config_last_reload_success_timestamp_seconds `,
		`gateway_build_info{commit="unknown",version="dev"} 1`,
		`gateway_upstream_errors_total{kind="connect",route="api"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(metrics, "127.0.0.1") {
		t.Error("/metrics carries an address in a label")
	}
	if got := httpGet(t, gw.admin+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}
	if got := httpGet(t, gw.admin+"/readyz"); got != "ready\n" {
		t.Errorf("/readyz = %q", got)
	}
	cfg := httpGet(t, gw.admin+"/-/config")
	if strings.Contains(cfg, "topsecret") || !strings.Contains(cfg, "api") {
		t.Errorf("/-/config must show the routes with secrets redacted:\n%s", cfg)
	}
	routes := httpGet(t, gw.admin+"/-/routes")
	if !strings.Contains(routes, `"name": "api"`) || !strings.Contains(routes, `"healthy": true`) {
		t.Errorf("/-/routes:\n%s", routes)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	status, body, err := fasthttp.Get(nil, url)
	if err != nil || status != 200 {
		t.Fatalf("GET %s: %d %v", url, status, err)
	}
	return string(body)
}
