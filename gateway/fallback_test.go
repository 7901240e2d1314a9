package gateway

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// flakyUpstream answers by path while up, and breaks every connection
// with bytes that are no HTTP while down.
type flakyUpstream struct {
	down atomic.Bool
	hits atomic.Int64
}

func (u *flakyUpstream) start(t *testing.T) string {
	return startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		u.hits.Add(1)
		if u.down.Load() {
			ctx.HijackSetNoResponse(true)
			ctx.Hijack(func(c net.Conn) { _, _ = c.Write([]byte("NOT HTTP AT ALL\r\n\r\n")) })
			return
		}
		h := &ctx.Response.Header
		h.SetContentType("text/plain")
		h.Set("X-Upstream", "yes")
		switch string(ctx.Path()) {
		case "/no-store":
			h.Set("Cache-Control", "no-store")
		case "/private":
			h.Set("Cache-Control", "private, max-age=60")
		case "/cookie":
			h.Set("Set-Cookie", "session=abc")
		default:
			h.Set("Cache-Control", "max-age=60")
		}
		ctx.SetBodyString("body of " + string(ctx.Path()) + "?" + string(ctx.QueryArgs().QueryString()) + " for " + string(ctx.Request.Header.Peek("Accept")))
	})
}

const fallbackConfig = `
routes:
  - name: cached
    match: { path_prefix: /c/ }
    strip_prefix: /c
    upstream: { targets: ["{UP1}"], retries: 0 }
    fallback:
      cache: { vary: [Accept] }
      static: { headers: { Content-Type: text/plain }, body: "come back later" }
  - name: bare
    match: { path_prefix: /b/ }
    strip_prefix: /b
    upstream: { targets: ["{UP1}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 1, open_for: 1m }
    fallback: { cache: {} }
`

func TestFallbackFromCache(t *testing.T) {
	var up flakyUpstream
	gw := startGateway(t, fallbackConfig, up.start(t))
	hdr := map[string]string{"Accept": "text/plain"}
	good := gw.do(t, "GET", "/c/page?q=1", hdr, "")
	if good.StatusCode() != 200 {
		t.Fatalf("while up: status %d", good.StatusCode())
	}
	want := string(good.Body())
	up.down.Store(true)
	time.Sleep(1100 * time.Millisecond) // an Age of at least 1

	resp := gw.do(t, "GET", "/c/page?q=1", hdr, "")
	if resp.StatusCode() != 200 || string(resp.Body()) != want {
		t.Fatalf("fallback: status %d body %q, want 200 %q", resp.StatusCode(), resp.Body(), want)
	}
	for name, want := range map[string]string{
		"X-Cache": "STALE", "X-Fallback": "cache", "Content-Type": "text/plain", "X-Upstream": "yes",
		"Cache-Control": "max-age=60",
	} {
		if got := string(resp.Header.Peek(name)); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if age, err := strconv.Atoi(string(resp.Header.Peek("Age"))); err != nil || age < 1 || age > 5 {
		t.Errorf("Age %q: want 1 to 5 seconds", resp.Header.Peek("Age"))
	}
	if n := len(resp.Header.PeekAll("X-Request-Id")); n > 1 {
		t.Errorf("%d X-Request-Id headers, want at most 1", n)
	}
	// A HEAD is answered from the copy of its GET.
	head := gw.do(t, "HEAD", "/c/page?q=1", hdr, "")
	if head.StatusCode() != 200 || string(head.Header.Peek("X-Fallback")) != "cache" || head.Header.ContentLength() != len(want) {
		t.Errorf("HEAD: status %d X-Fallback %q Content-Length %d, want 200 cache %d",
			head.StatusCode(), head.Header.Peek("X-Fallback"), head.Header.ContentLength(), len(want))
	}
	if got := gw.metric(t, `gateway_fallback_served_total{route="cached",source="cache"}`); got != 2 {
		t.Errorf("cache fallbacks counted %v, want 2", got)
	}

	// Another query, another Accept: other keys, never seen.
	for _, tt := range []struct {
		desc, path, accept string
	}{
		{desc: "other query", path: "/c/page?q=2", accept: "text/plain"},
		{desc: "other vary header", path: "/c/page?q=1", accept: "application/json"},
	} {
		resp := gw.do(t, "GET", tt.path, map[string]string{"Accept": tt.accept}, "")
		if resp.StatusCode() != 503 || string(resp.Header.Peek("X-Fallback")) != "static" || string(resp.Body()) != "come back later" {
			t.Errorf("%s: status %d X-Fallback %q body %q, want the static fallback",
				tt.desc, resp.StatusCode(), resp.Header.Peek("X-Fallback"), resp.Body())
		}
	}
	if got := gw.metric(t, `gateway_fallback_served_total{route="cached",source="static"}`); got != 2 {
		t.Errorf("static fallbacks counted %v, want 2", got)
	}
}

func TestFallbackNotStored(t *testing.T) {
	var up flakyUpstream
	gw := startGateway(t, fallbackConfig, up.start(t))
	paths := []string{"/c/no-store", "/c/private", "/c/cookie"}
	for _, p := range paths {
		if resp := gw.do(t, "GET", p, nil, ""); resp.StatusCode() != 200 {
			t.Fatalf("%s while up: status %d", p, resp.StatusCode())
		}
	}
	up.down.Store(true)
	for _, p := range paths {
		resp := gw.do(t, "GET", p, nil, "")
		if got := string(resp.Header.Peek("X-Fallback")); got != "static" {
			t.Errorf("%s: X-Fallback %q (status %d), want static: the answer must not be stored", p, got, resp.StatusCode())
		}
	}
}

func TestFallbackChain(t *testing.T) {
	var up flakyUpstream
	gw := startGateway(t, fallbackConfig, up.start(t))
	if resp := gw.do(t, "POST", "/c/page", nil, "x"); resp.StatusCode() != 200 {
		t.Fatalf("while up: status %d", resp.StatusCode())
	}
	up.down.Store(true)
	tests := []struct {
		desc, method, path string
		wantStatus         int
		wantFallback       string
		wantRetryAfter     bool
	}{
		{desc: "method without fallback", method: "POST", path: "/c/page", wantStatus: 502},
		{desc: "no copy, static answer", method: "GET", path: "/c/new", wantStatus: 503, wantFallback: "static"},
		{desc: "upstream failed, no static", method: "GET", path: "/b/new", wantStatus: 502},
		{desc: "breaker open, no static", method: "GET", path: "/b/new", wantStatus: 503, wantRetryAfter: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			resp := gw.do(t, tt.method, tt.path, nil, "x")
			if resp.StatusCode() != tt.wantStatus || string(resp.Header.Peek("X-Fallback")) != tt.wantFallback {
				t.Errorf("status %d X-Fallback %q, want %d %q (body %s)", resp.StatusCode(),
					resp.Header.Peek("X-Fallback"), tt.wantStatus, tt.wantFallback, resp.Body())
			}
			if got := len(resp.Header.Peek("Retry-After")) > 0; got != tt.wantRetryAfter {
				t.Errorf("Retry-After present: %v, want %v", got, tt.wantRetryAfter)
			}
		})
	}
	if got := gw.metric(t, `gateway_fallback_served_total{route="bare",source="error"}`); got != 2 {
		t.Errorf("error fallbacks counted %v, want 2", got)
	}
}

// TestFallbackBreakerOpenFromCache: while the breaker is open a stored
// copy is served without asking the upstream.
func TestFallbackBreakerOpenFromCache(t *testing.T) {
	var up flakyUpstream
	gw := startGateway(t, fallbackConfig, up.start(t))
	good := gw.do(t, "GET", "/b/page", nil, "")
	up.down.Store(true)
	gw.do(t, "GET", "/b/other", nil, "") // fails and opens the breaker
	hits := up.hits.Load()
	resp := gw.do(t, "GET", "/b/page", nil, "")
	if resp.StatusCode() != 200 || string(resp.Body()) != string(good.Body()) || string(resp.Header.Peek("X-Fallback")) != "cache" {
		t.Errorf("status %d body %q X-Fallback %q, want the stored copy", resp.StatusCode(), resp.Body(), resp.Header.Peek("X-Fallback"))
	}
	if up.hits.Load() != hits {
		t.Errorf("the upstream was asked while the breaker is open")
	}
}

// TestFallbackStreamedBody: an answer large enough to stream from the
// upstream is read whole, reaches the client intact, and is stored; one
// over max_entry_size is passed on and not stored.
func TestFallbackStreamedBody(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16)
	var down atomic.Bool
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		if down.Load() {
			ctx.HijackSetNoResponse(true)
			ctx.Hijack(func(c net.Conn) {})
			return
		}
		ctx.SetBody(big)
	})
	gw := startGateway(t, `
routes:
  - name: big
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"], retries: 0 }
    fallback: { cache: { max_entry_size: 512KiB } }
  - name: small
    match: { path_prefix: /small/ }
    strip_prefix: /small
    upstream: { targets: ["{UP1}"], retries: 0 }
    fallback: { cache: { max_entry_size: 64KiB } }
`, up)
	for _, p := range []string{"/x", "/small/x"} {
		if resp := gw.do(t, "GET", p, nil, ""); resp.StatusCode() != 200 || !bytes.Equal(resp.Body(), big) {
			t.Fatalf("%s while up: status %d, %d body bytes, want 200 and %d", p, resp.StatusCode(), len(resp.Body()), len(big))
		}
	}
	down.Store(true)
	resp := gw.do(t, "GET", "/x", nil, "")
	if resp.StatusCode() != 200 || !bytes.Equal(resp.Body(), big) || string(resp.Header.Peek("X-Fallback")) != "cache" {
		t.Errorf("stored copy: status %d, %d body bytes, X-Fallback %q", resp.StatusCode(), len(resp.Body()), resp.Header.Peek("X-Fallback"))
	}
	if resp := gw.do(t, "GET", "/small/x", nil, ""); resp.StatusCode() != 502 {
		t.Errorf("over max_entry_size: status %d, want 502: it must not be stored", resp.StatusCode())
	}
}

// TestFallbackSharedThroughRedis: with store: redis, gateway B serves the
// copy gateway A stored, while B's own upstream is down.
func TestFallbackSharedThroughRedis(t *testing.T) {
	addr := redisAddr(t)
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("from A's upstream") })
	route := fmt.Sprintf("r%d", time.Now().UnixNano()) // a fresh key space in the shared Redis
	cfg := func(target string) string {
		return fmt.Sprintf(`
redis: { address: "%s", timeout: 200ms }
routes:
  - name: %s
    match: { path_prefix: /shared/ }
    upstream: { targets: ["%s"], timeout: 1s }
    fallback: { cache: { store: redis, max_stale: 1m } }
`, addr, route, target)
	}
	a := startGateway(t, cfg(up))
	b := startGateway(t, cfg(deadAddr(t)))
	host := map[string]string{"Host": "shop.example"}
	if resp := a.do(t, "GET", "/shared/item", host, ""); resp.StatusCode() != 200 {
		t.Fatalf("A: %d", resp.StatusCode())
	}
	deadline := time.Now().Add(10 * time.Second) // a bound, not a timing: passing runs take milliseconds
	for {
		resp := b.do(t, "GET", "/shared/item", host, "")
		if resp.StatusCode() == 200 {
			if string(resp.Body()) != "from A's upstream" || string(resp.Header.Peek("X-Fallback")) != "cache" {
				t.Errorf("B answered %q with X-Fallback %q", resp.Body(), resp.Header.Peek("X-Fallback"))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("B never served A's copy within 10s: last status %d %s", resp.StatusCode(), resp.Body())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCacheMetrics: the fallback cache's size, hits and misses are on
// /metrics.
func TestCacheMetrics(t *testing.T) {
	var up flakyUpstream
	gw := startGateway(t, fallbackConfig, up.start(t))
	if s := gw.do(t, "GET", "/c/m", nil, "").StatusCode(); s != 200 {
		t.Fatalf("status %d", s)
	}
	up.down.Store(true)
	if s := gw.do(t, "GET", "/c/m", nil, "").StatusCode(); s != 200 {
		t.Fatalf("from the cache: status %d", s)
	}
	gw.do(t, "GET", "/c/unseen", nil, "")
	for series, atLeast := range map[string]float64{
		"gateway_cache_entries":      1,
		"gateway_cache_bytes":        1,
		"gateway_cache_hits_total":   1,
		"gateway_cache_misses_total": 1,
	} {
		if got := gw.metric(t, series); got < atLeast {
			t.Errorf("%s = %v, want at least %v", series, got, atLeast)
		}
	}
	if got := gw.metric(t, "gateway_cache_evictions_total"); got != 0 {
		t.Errorf("gateway_cache_evictions_total = %v, want 0", got)
	}
}

// TestFallbackOnStatus: an upstream answer whose status the route lists in
// fallback.on_status takes the chain as a failed upstream does (a stored
// copy, the alternate, the static answer); with nothing to serve, the
// upstream's own answer is passed on. Other statuses, and methods without
// a fallback, are passed on as they are.
func TestFallbackOnStatus(t *testing.T) {
	var status atomic.Int64 // what the primary answers; 0 for 200
	primary := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		if st := int(status.Load()); st != 0 {
			ctx.SetStatusCode(st)
			ctx.SetBodyString("primary says " + strconv.Itoa(st))
			return
		}
		ctx.SetBodyString("fresh " + string(ctx.Path()))
	})
	replica := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("from the replica") })
	gw := startGateway(t, `
routes:
  - name: cached
    match: { path_prefix: /c/ }
    upstream: { targets: ["{UP1}"], retries: 0 }
    fallback: { on_status: [503], cache: {} }
  - name: replica
    match: { path_prefix: /r/ }
    upstream: { targets: ["{UP1}"], retries: 0 }
    fallback: { on_status: [503, 429], upstream: { targets: ["{UP2}"] } }
  - name: static
    match: { path_prefix: /s/ }
    upstream: { targets: ["{UP1}"], retries: 0 }
    fallback: { on_status: [500], static: { status: 200, body: "static answer" } }
`, primary, replica)
	stored := gw.do(t, "GET", "/c/page", nil, "")
	if stored.StatusCode() != 200 {
		t.Fatalf("while healthy: status %d", stored.StatusCode())
	}
	tests := []struct {
		desc, method, path string
		upstream           int
		wantStatus         int
		wantBody           string
		wantFallback       string
	}{
		{desc: "stored copy", method: "GET", path: "/c/page", upstream: 503, wantStatus: 200, wantBody: string(stored.Body()), wantFallback: "cache"},
		{desc: "no copy: the upstream's answer", method: "GET", path: "/c/never-stored", upstream: 503, wantStatus: 503, wantBody: "primary says 503"},
		{desc: "status not listed", method: "GET", path: "/c/page", upstream: 500, wantStatus: 500, wantBody: "primary says 500"},
		{desc: "method without fallback", method: "POST", path: "/c/page", upstream: 503, wantStatus: 503, wantBody: "primary says 503"},
		{desc: "alternate upstream", method: "GET", path: "/r/x", upstream: 429, wantStatus: 200, wantBody: "from the replica", wantFallback: "upstream"},
		{desc: "static answer", method: "GET", path: "/s/x", upstream: 500, wantStatus: 200, wantBody: "static answer", wantFallback: "static"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			status.Store(int64(tt.upstream))
			resp := gw.do(t, tt.method, tt.path, nil, "")
			if resp.StatusCode() != tt.wantStatus || string(resp.Body()) != tt.wantBody || string(resp.Header.Peek("X-Fallback")) != tt.wantFallback {
				t.Errorf("status %d body %q X-Fallback %q, want %d %q %q", resp.StatusCode(), resp.Body(),
					resp.Header.Peek("X-Fallback"), tt.wantStatus, tt.wantBody, tt.wantFallback)
			}
		})
	}
	if got := gw.metric(t, `gateway_fallback_served_total{route="cached",source="error"}`); got != 1 {
		t.Errorf("chains that ended without an answer counted %v, want 1", got)
	}
}
