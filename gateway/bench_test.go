package gateway

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"

	"github.com/fastgate/gateway/upstream"
)

var benchBody = []byte("hello, world!") // 13 bytes

func benchUpstream(b testing.TB, body []byte) string {
	return startUpstream(b, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/plain")
		ctx.SetBody(body)
	})
}

const benchConfig = `
routes:
  - name: hello
    match: { path: /hello, methods: [GET] }
    respond: { body: "hello, world!" }
  - name: rl-open
    match: { path: /rl-open }
    rate_limit: { rate: 1000000, burst: 1000000000, headers: true }
    respond: { body: "hello, world!" }
  - name: rl-ip
    match: { path: /rl-ip }
    rate_limit: { rate: 1000000, burst: 1000000000, per: client_ip }
    respond: { body: "hello, world!" }
  - name: api-limited
    match: { path_prefix: /rl/ }
    strip_prefix: /rl
    rate_limit: { rate: 1000000, burst: 1000000, per: client_ip }
    upstream: { targets: ["{UP1}"] }
  - name: guarded
    match: { path_prefix: /guard/ }
    strip_prefix: /guard
    upstream: { targets: ["{UP1}"] }
    circuit_breaker: { failure_ratio: 0.5, min_requests: 10 }
    fallback: { cache: { vary: [Accept] }, static: { body: "later" } }
  - name: per-target
    match: { path_prefix: /targets/ }
    strip_prefix: /targets
    upstream: { targets: ["{UP1}"] }
    circuit_breaker: { per: target }
  - name: api
    match: { path_prefix: /api/ }
    strip_prefix: /api
    response_headers: { set: { X-Served-By: gateway } }
    upstream: { targets: ["{UP1}"] }
`

// BenchmarkProxy measures one proxied request end to end: a client, the
// gateway and a fasthttp upstream, all in this process over loopback.
// allocs/op counts all three; the client (the gateway's own upstream
// client, which keeps its response buffer) and the upstream allocate
// nothing in steady state, so it is the gateway's.
func BenchmarkProxy(b *testing.B) {
	for _, size := range []int{13, 1 << 10, 64 << 10} {
		b.Run(sizeName(size), func(b *testing.B) {
			up := benchUpstream(b, []byte(strings.Repeat("x", size)))
			gw := startGateway(b, benchConfig, up)
			c, err := upstream.New(upstream.Settings{Addr: gw.addr})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI("http://" + gw.addr + "/api/x")
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				if err := c.Do(req, resp, time.Now().Add(5*time.Second)); err != nil || resp.StatusCode() != 200 {
					b.Fatalf("%v %d", err, resp.StatusCode())
				}
			}
		})
	}
}

// BenchmarkRespond measures a route the gateway answers itself.
func BenchmarkRespond(b *testing.B) {
	gw := startGateway(b, benchConfig, deadAddr(b))
	c := &fasthttp.HostClient{Addr: gw.addr}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI("http://" + gw.addr + "/hello")
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Fatalf("%v %d", err, resp.StatusCode())
		}
	}
}

// BenchmarkHandler runs the gateway's handler alone on a reused request
// context against a loopback upstream: the gateway's own cost per request,
// for a plain proxied route and the same route behind a per-client rate
// limit too high to refuse anything.
func BenchmarkHandler(b *testing.B) {
	up := benchUpstream(b, benchBody)
	gw := startGateway(b, benchConfig, up)
	for _, path := range []string{"/api/x", "/rl/x", "/guard/x"} {
		b.Run(path, func(b *testing.B) {
			ctx := newBenchCtx(path)
			b.ReportAllocs()
			for b.Loop() {
				serveOnce(gw.Gateway, ctx, path)
			}
		})
	}
}

func sizeName(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// newBenchCtx returns a request context for path, on a connection that
// takes deadlines and nothing else, as the server's own would.
func newBenchCtx(path string) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Init2(benchConn{}, nil, true)
	ctx.Request.SetRequestURI("http://bench.local" + path)
	return ctx
}

// benchConn is the client connection of newBenchCtx: its address is
// 127.0.0.1:40000, its deadlines are taken and ignored, and it is never
// read or written (the handler does neither).
type benchConn struct{ net.Conn }

var benchClient, benchLocal net.Addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000},
	&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}

func (benchConn) RemoteAddr() net.Addr             { return benchClient }
func (benchConn) LocalAddr() net.Addr              { return benchLocal }
func (benchConn) SetDeadline(time.Time) error      { return nil }
func (benchConn) SetReadDeadline(time.Time) error  { return nil }
func (benchConn) SetWriteDeadline(time.Time) error { return nil }

// serveOnce resets ctx to a fresh GET of path, as the server does between
// requests, and runs the handler.
func serveOnce(g *Gateway, ctx *fasthttp.RequestCtx, path string) {
	ctx.Response.Reset()
	ctx.Request.Header.Reset()
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.Header.SetHost("bench.local")
	ctx.Request.SetRequestURI(path)
	ctx.Request.Header.Set("User-Agent", "bench")
	g.serve(ctx)
	if ctx.Response.StatusCode() != 200 {
		panic("status " + strconv.Itoa(ctx.Response.StatusCode()) + ": " + string(ctx.Response.Body()))
	}
	// What the server does after writing: release a streamed body.
	ctx.Response.ResetBody()
}

// BenchmarkRateLimitStep isolates what a rate limit adds to a request: the
// same answer from the gateway itself, without a limit, behind a
// per-client limit, and behind a limit that sends its headers.
func BenchmarkRateLimitStep(b *testing.B) {
	gw := startGateway(b, benchConfig, deadAddr(b))
	for _, path := range []string{"/hello", "/rl-ip", "/rl-open"} {
		b.Run(path, func(b *testing.B) {
			ctx := newBenchCtx(path)
			b.ReportAllocs()
			for b.Loop() {
				serveOnce(gw.Gateway, ctx, path)
			}
		})
	}
}

// BenchmarkHandlerAccessLog is BenchmarkHandler's proxied request with
// every request logged (JSON, to io.Discard through the real writer
// goroutine), against the same route unlogged; and the same for an
// answer from config, where the logging's share stands out.
func BenchmarkHandlerAccessLog(b *testing.B) {
	up := benchUpstream(b, benchBody)
	cfg, err := config.Parse([]byte(strings.ReplaceAll(`
access_log: {}
routes:
  - { name: logged, match: { path_prefix: /logged/ }, upstream: { targets: ["{UP1}"] } }
  - { name: quiet, match: { path_prefix: /quiet/ }, upstream: { targets: ["{UP1}"] }, access_log: { off: true } }
  - { name: logged-respond, match: { path_prefix: /logged-respond/ }, respond: { body: "hello, world!" } }
  - { name: quiet-respond, match: { path_prefix: /quiet-respond/ }, respond: { body: "hello, world!" }, access_log: { off: true } }
`, "{UP1}", up)), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	gw := serveConfigWith(b, cfg, Options{AccessLogOutput: io.Discard})
	for _, path := range []string{"/quiet/x", "/logged/x", "/quiet-respond/x", "/logged-respond/x"} {
		b.Run(path, func(b *testing.B) {
			ctx := newBenchCtx(path)
			b.ReportAllocs()
			for b.Loop() {
				serveOnce(gw.Gateway, ctx, path)
			}
		})
	}
}
