package gateway

import (
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

// echoHeaders answers with the request's method, URI and headers as JSON.
func echoHeaders(ctx *fasthttp.RequestCtx) {
	out := map[string]any{
		"method": string(ctx.Method()),
		"uri":    string(ctx.RequestURI()),
		"host":   string(ctx.Host()),
	}
	hdr := map[string]string{}
	for k, v := range ctx.Request.Header.All() {
		hdr[string(k)] = string(v)
	}
	out["headers"] = hdr
	b, _ := json.Marshal(out)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

type echoed struct {
	Method  string            `json:"method"`
	URI     string            `json:"uri"`
	Host    string            `json:"host"`
	Headers map[string]string `json:"headers"`
}

func decodeEcho(t *testing.T, resp *fasthttp.Response) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal(resp.Body(), &e); err != nil {
		t.Fatalf("upstream answer %q: %v", resp.Body(), err)
	}
	return e
}

const proxyConfig = `
routes:
  - name: api
    match: { path_prefix: /api/ }
    strip_prefix: /api
    request_headers: { set: { X-Added: yes }, remove: [X-Secret] }
    response_headers: { set: { X-Resp-Added: "1" }, remove: [X-Internal] }
    upstream: { targets: ["{UP1}"] }
  - name: trusted
    match: { path_prefix: /t/ }
    upstream: { targets: ["{UP1}"], host_header: backend.internal }
`

func TestProxyHeaders(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("X-Internal", "leak")
		ctx.Response.Header.Set("Keep-Alive", "timeout=5")
		ctx.Response.Header.Set("Connection", "X-Hop")
		ctx.Response.Header.Set("X-Hop", "hop")
		echoHeaders(ctx)
	})
	gw := startGateway(t, proxyConfig, up)

	resp := gw.do(t, "GET", "/api/users?id=7", map[string]string{
		"Host":                "shop.example.com",
		"Connection":          "keep-alive, X-Conn-Listed",
		"X-Conn-Listed":       "gone",
		"Keep-Alive":          "timeout=5",
		"Proxy-Authorization": "Basic Zm9vOmJhcg==",
		"TE":                  "trailers",
		"Upgrade":             "h2c",
		"X-Forwarded-For":     "6.6.6.6",
		"X-Forwarded-Host":    "evil.example",
		"X-Forwarded-Proto":   "https",
		"Forwarded":           "for=6.6.6.6",
		"X-Secret":            "s3cret",
		"X-Kept":              "kept",
	}, "")
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d, body %s", resp.StatusCode(), resp.Body())
	}
	e := decodeEcho(t, resp)

	tests := []struct {
		desc, header, want string
	}{
		{desc: "prefix stripped, query kept", header: ":uri", want: "/users?id=7"},
		{desc: "client host passed on", header: "Host", want: "shop.example.com"},
		{desc: "connection-listed header removed", header: "X-Conn-Listed", want: ""},
		{desc: "keep-alive removed", header: "Keep-Alive", want: ""},
		{desc: "proxy-authorization removed", header: "Proxy-Authorization", want: ""},
		{desc: "te removed", header: "Te", want: ""},
		{desc: "upgrade removed", header: "Upgrade", want: ""},
		{desc: "untrusted forwarded-for replaced", header: "X-Forwarded-For", want: "127.0.0.1"},
		{desc: "untrusted forwarded-host replaced", header: "X-Forwarded-Host", want: "shop.example.com"},
		{desc: "untrusted forwarded-proto replaced", header: "X-Forwarded-Proto", want: "http"},
		{desc: "untrusted Forwarded removed", header: "Forwarded", want: ""},
		{desc: "route removes header", header: "X-Secret", want: ""},
		{desc: "route sets header", header: "X-Added", want: "yes"},
		{desc: "other headers kept", header: "X-Kept", want: "kept"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := e.Headers[tt.header]
			if tt.header == ":uri" {
				got = e.URI
			}
			if tt.header == "Host" {
				got = e.Host
			}
			if got != tt.want {
				t.Errorf("%s = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
	if id := e.Headers["X-Request-Id"]; len(id) != 36 {
		t.Errorf("generated X-Request-Id = %q, want a 36-character id", id)
	} else if got := string(resp.Header.Peek("X-Request-Id")); got != id {
		t.Errorf("response X-Request-Id = %q, want the one sent upstream %q", got, id)
	}
	for _, h := range []string{"X-Internal", "Keep-Alive", "X-Hop"} {
		if v := resp.Header.Peek(h); len(v) > 0 {
			t.Errorf("response header %s = %q reached the client", h, v)
		}
	}
	if got := string(resp.Header.Peek("X-Resp-Added")); got != "1" {
		t.Errorf("response X-Resp-Added = %q, want 1", got)
	}
}

func TestProxyRequestIDPropagated(t *testing.T) {
	up := startUpstream(t, echoHeaders)
	gw := startGateway(t, proxyConfig, up)
	resp := gw.do(t, "GET", "/api/x", map[string]string{"X-Request-Id": "abc-123"}, "")
	if got := decodeEcho(t, resp).Headers["X-Request-Id"]; got != "abc-123" {
		t.Errorf("upstream saw X-Request-Id %q, want abc-123", got)
	}
}

func TestProxyTrustedProxies(t *testing.T) {
	up := startUpstream(t, echoHeaders)
	gw := startGateway(t, "trusted_proxies: [127.0.0.0/8]\n"+proxyConfig, up)
	resp := gw.do(t, "GET", "/t/x", map[string]string{
		"X-Forwarded-For":   "203.0.113.9",
		"X-Forwarded-Proto": "https",
		"X-Forwarded-Host":  "public.example",
	}, "")
	e := decodeEcho(t, resp)
	if got := e.Headers["X-Forwarded-For"]; got != "203.0.113.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the trusted chain extended", got)
	}
	if got := e.Headers["X-Forwarded-Proto"]; got != "https" {
		t.Errorf("X-Forwarded-Proto = %q, want the trusted value kept", got)
	}
	if got := e.Headers["X-Forwarded-Host"]; got != "public.example" {
		t.Errorf("X-Forwarded-Host = %q, want the trusted value kept", got)
	}
	if e.Host != "backend.internal" {
		t.Errorf("Host = %q, want host_header backend.internal", e.Host)
	}
}

func TestProxyUpstreamFailures(t *testing.T) {
	garbage := rawUpstream(t, func(c net.Conn) { _, _ = c.Write([]byte("NOT HTTP AT ALL\r\n\r\n")) })
	reset := rawUpstream(t, func(c net.Conn) {
		buf := make([]byte, 1024)
		_, _ = c.Read(buf)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	})
	hang := rawUpstream(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	cfg := `
routes:
  - { name: garbage, match: { path: /garbage }, upstream: { targets: ["{UP1}"] } }
  - { name: reset, match: { path: /reset }, upstream: { targets: ["{UP2}"] } }
  - { name: hang, match: { path: /hang }, upstream: { targets: ["{UP3}"], timeout: 300ms } }
  - { name: refused, match: { path: /refused }, upstream: { targets: ["{UP4}"] } }
`
	gw := startGateway(t, cfg, garbage, reset, hang, deadAddr(t))
	tests := []struct {
		desc, path string
		want       int
	}{
		{desc: "garbage answer", path: "/garbage", want: 502},
		{desc: "reset before answer", path: "/reset", want: 502},
		{desc: "hanging upstream", path: "/hang", want: 504},
		{desc: "connection refused", path: "/refused", want: 502},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			resp := gw.do(t, "GET", tt.path, nil, "")
			if resp.StatusCode() != tt.want {
				t.Fatalf("status %d, want %d (body %s)", resp.StatusCode(), tt.want, resp.Body())
			}
			var body struct{ Error, Route string }
			if err := json.Unmarshal(resp.Body(), &body); err != nil || body.Route != strings.TrimPrefix(tt.path, "/") || body.Error == "" {
				t.Errorf("error body %q: want JSON with error and route %q", resp.Body(), tt.path[1:])
			}
			if strings.Contains(string(resp.Body()), "NOT HTTP") {
				t.Errorf("upstream bytes leaked into the answer: %q", resp.Body())
			}
		})
	}
	// The gateway stays healthy after all that.
	if resp := gw.do(t, "GET", "/nothing-here", nil, ""); resp.StatusCode() != 404 {
		t.Errorf("after failures: status %d, want 404", resp.StatusCode())
	}
}

// rawUpstream accepts TCP connections and hands each to serve. When the
// test ends it closes the listener and every connection and waits for the
// handlers.
func rawUpstream(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

func TestProxyRetries(t *testing.T) {
	var hits atomic.Int32
	good := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		hits.Add(1)
		ctx.SetBodyString("ok")
	})
	dead := deadAddr(t)
	cfg := `
routes:
  - name: plain
    match: { path: /plain }
    upstream: { targets: ["{UP1}", "{UP2}"], passive_health: { max_failures: 100 } }
  - name: noretry
    match: { path: /noretry }
    upstream: { targets: ["{UP1}", "{UP2}"], retries: 0, passive_health: { max_failures: 100 } }
  - name: post-ok
    match: { path: /post-ok }
    upstream: { targets: ["{UP1}", "{UP2}"], retry_non_idempotent: true, passive_health: { max_failures: 100 } }
`
	gw := startGateway(t, cfg, dead, good)
	count := func(method, path string) (ok, failed int) {
		for i := 0; i < 10; i++ {
			switch gw.do(t, method, path, nil, "x").StatusCode() {
			case 200:
				ok++
			case 502:
				failed++
			}
		}
		return ok, failed
	}
	tests := []struct {
		desc, method, path string
		wantFailed         bool
	}{
		{desc: "GET retried on the other target", method: "GET", path: "/plain", wantFailed: false},
		{desc: "PUT retried on the other target", method: "PUT", path: "/plain", wantFailed: false},
		{desc: "POST not retried by default", method: "POST", path: "/plain", wantFailed: true},
		{desc: "retries: 0 turns retries off", method: "GET", path: "/noretry", wantFailed: true},
		{desc: "POST retried when the route allows it", method: "POST", path: "/post-ok", wantFailed: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ok, failed := count(tt.method, tt.path)
			if tt.wantFailed && failed == 0 {
				t.Errorf("ok=%d failed=%d: want some 502s, round robin sends half to the dead target", ok, failed)
			}
			if !tt.wantFailed && failed != 0 {
				t.Errorf("ok=%d failed=%d: want every request retried onto the live target", ok, failed)
			}
		})
	}
}

func TestProxyPassiveHealth(t *testing.T) {
	var hits atomic.Int32
	good := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		hits.Add(1)
		ctx.SetBodyString("ok")
	})
	cfg := `
routes:
  - name: r
    match: { path: /r }
    upstream: { targets: ["{UP1}", "{UP2}"], retries: 0, passive_health: { max_failures: 2, cooldown: 1h } }
`
	gw := startGateway(t, cfg, deadAddr(t), good)
	failed := 0
	for i := 0; i < 20; i++ {
		if gw.do(t, "GET", "/r", nil, "").StatusCode() != 200 {
			failed++
		}
	}
	// Round robin alternates; the dead target fails twice, then sits out
	// its cool-down, so exactly two requests fail.
	if failed != 2 {
		t.Errorf("%d of 20 requests failed, want 2 (the dead target left out after 2 failures)", failed)
	}
}

// TestProxyDuplicateRequestID: of several X-Request-Id lines the upstream
// gets only the first, the one the client's answer carries.
func TestProxyDuplicateRequestID(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		n := 0
		for range ctx.Request.Header.PeekAll("X-Request-Id") {
			n++
		}
		ctx.SetBodyString(strconv.Itoa(n) + " " + string(ctx.Request.Header.Peek("X-Request-Id")))
	})
	gw := startGateway(t, `
routes:
  - { name: r, match: { path_prefix: / }, upstream: { targets: ["{UP1}"] } }
`, up)
	_, resp := gw.raw(t, "GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: first\r\nX-Request-Id: second\r\nConnection: close\r\n\r\n")
	if !strings.HasSuffix(resp, "1 first") || !strings.Contains(resp, "X-Request-Id: first") {
		t.Errorf("answer %q: want the upstream to see one X-Request-Id, first, and the client to get it back", resp)
	}
}
