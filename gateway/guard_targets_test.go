package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestBreakerPerTargetSkipsTheBadOne(t *testing.T) {
	var bad, good switchUpstream
	bad.status.Store(500)
	badAddr, goodAddr := bad.start(t), good.start(t)
	gw := startGateway(t, `
routes:
  - name: api
    match: { path_prefix: /api/ }
    upstream: { targets: ["{UP1}", "{UP2}"], retries: 0 }
    circuit_breaker: { per: target, consecutive_failures: 2, open_for: 300ms }
`, badAddr, goodAddr)
	badTarget := strings.TrimPrefix(badAddr, "http://")
	goodTarget := strings.TrimPrefix(goodAddr, "http://")

	// Round robin sends every other request to the bad target until its
	// breaker opens after its second failure.
	failures := 0
	for range 4 {
		if gw.do(t, "GET", "/api/x", nil, "").StatusCode() == 500 {
			failures++
		}
	}
	if failures != 2 || bad.hits.Load() != 2 {
		t.Fatalf("%d failures seen, bad target hit %d times; want 2 and 2", failures, bad.hits.Load())
	}
	// Open for the bad target only: everything goes to the good one.
	for i := range 10 {
		if resp := gw.do(t, "GET", "/api/x", nil, ""); resp.StatusCode() != 200 {
			t.Fatalf("request %d with one target open: status %d, want 200 from the other", i, resp.StatusCode())
		}
	}
	if got := bad.hits.Load(); got != 2 {
		t.Errorf("bad target got %d requests, want still 2 while its breaker is open", got)
	}
	if got := gw.metric(t, `gateway_breaker_target_state{route="api",target="`+badTarget+`"}`); got != 2 {
		t.Errorf("bad target's breaker state %v, want 2 (open)", got)
	}
	if got := gw.metric(t, `gateway_breaker_target_state{route="api",target="`+goodTarget+`"}`); got != 0 {
		t.Errorf("good target's breaker state %v, want 0 (closed)", got)
	}

	// Past open_for the bad target, healed, is probed and closes again.
	bad.status.Store(200)
	time.Sleep(350 * time.Millisecond)
	before := bad.hits.Load()
	for range 4 {
		if resp := gw.do(t, "GET", "/api/x", nil, ""); resp.StatusCode() != 200 {
			t.Fatalf("after healing: status %d", resp.StatusCode())
		}
	}
	if bad.hits.Load() == before {
		t.Error("the healed target got no request after open_for")
	}
	if got := gw.metric(t, `gateway_breaker_target_state{route="api",target="`+badTarget+`"}`); got != 0 {
		t.Errorf("healed target's breaker state %v, want 0 (closed)", got)
	}
}

func TestBreakerPerTargetAllOpen(t *testing.T) {
	var a, b switchUpstream
	a.status.Store(502)
	b.status.Store(503)
	gw := startGateway(t, `
routes:
  - name: api
    match: { path_prefix: /api/ }
    upstream: { targets: ["{UP1}", "{UP2}"], retries: 0 }
    circuit_breaker: { per: target, consecutive_failures: 1, open_for: 1m }
`, a.start(t), b.start(t))
	for range 2 {
		gw.do(t, "GET", "/api/x", nil, "")
	}
	for i := range 3 {
		resp := gw.do(t, "GET", "/api/x", nil, "")
		if resp.StatusCode() != 503 || len(resp.Header.Peek("Retry-After")) == 0 {
			t.Fatalf("request %d with every target open: status %d, want 503 with Retry-After", i, resp.StatusCode())
		}
	}
	if got := a.hits.Load() + b.hits.Load(); got != 2 {
		t.Errorf("targets got %d requests, want 2: open breakers let none through", got)
	}
	if got := gw.metric(t, `gateway_breaker_transitions_total{route="api",to="open"}`); got != 2 {
		t.Errorf("open transitions %v, want 2", got)
	}
}

func TestFallbackAlternateUpstream(t *testing.T) {
	var primary switchUpstream
	primary.status.Store(200)
	// The alternate echoes the path and Host it was asked for, so the test
	// sees the request was prepared once for it.
	alt := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetStatusCode(200)
		ctx.SetBodyString("replica " + string(ctx.RequestURI()) + " " + string(ctx.Host()))
	})
	gw := startGateway(t, `
routes:
  - name: api
    match: { path_prefix: /api/ }
    strip_prefix: /api
    response_headers: { set: { X-Route: api } }
    upstream: { targets: ["{UP1}"], retries: 0, timeout: 200ms }
    circuit_breaker: { consecutive_failures: 3, open_for: 1m }
    fallback:
      upstream: { targets: ["{UP2}"], host_header: replica.internal, timeout: 1s }
      static: { status: 503, body: "static" }
  - name: dead
    match: { path_prefix: /dead/ }
    upstream: { targets: ["{UP3}"], retries: 0 }
    fallback:
      upstream: { targets: ["{UP3}"], timeout: 1s }
      static: { status: 503, body: "static" }
`, primary.start(t), alt, deadAddr(t))

	check := func(desc string, resp *fasthttp.Response, wantBody string) {
		t.Helper()
		if resp.StatusCode() != 200 || string(resp.Body()) != wantBody ||
			string(resp.Header.Peek("X-Fallback")) != "upstream" || string(resp.Header.Peek("X-Route")) != "api" {
			t.Errorf("%s: status %d body %q X-Fallback %q X-Route %q; want 200 %q from the alternate, marked upstream",
				desc, resp.StatusCode(), resp.Body(), resp.Header.Peek("X-Fallback"), resp.Header.Peek("X-Route"), wantBody)
		}
	}
	// Failing (timeouts past the route's 200ms): the alternate answers,
	// with its own timeout. The primary holds its requests until the end.
	hung := make(chan struct{})
	t.Cleanup(func() { close(hung) }) // before the upstream's own cleanup waits
	primary.hold.Store(&hung)
	for i := range 3 {
		check("failing "+string(rune('0'+i)), gw.do(t, "GET", "/api/items?x=1", nil, ""), "replica /items?x=1 replica.internal")
	}
	// Open: the primary is not asked, the alternate still answers.
	hits := primary.hits.Load()
	check("open", gw.do(t, "GET", "/api/items?x=2", nil, ""), "replica /items?x=2 replica.internal")
	if got := primary.hits.Load(); got != hits {
		t.Errorf("primary got %d more requests while open", got-hits)
	}
	if got := gw.metric(t, `gateway_fallback_served_total{route="api",source="upstream"}`); got != 4 {
		t.Errorf("upstream fallbacks counted %v, want 4", got)
	}
	// The alternate failing too leaves the static answer.
	resp := gw.do(t, "GET", "/dead/x", nil, "")
	if resp.StatusCode() != 503 || string(resp.Body()) != "static" || string(resp.Header.Peek("X-Fallback")) != "static" {
		t.Errorf("alternate down: status %d body %q X-Fallback %q, want the static answer", resp.StatusCode(), resp.Body(), resp.Header.Peek("X-Fallback"))
	}
}

func TestBreakerPerTargetCountsRefusedConnections(t *testing.T) {
	var good switchUpstream
	dead := deadAddr(t)
	gw := startGateway(t, `
routes:
  - name: api
    match: { path_prefix: /api/ }
    upstream: { targets: ["{UP1}", "{UP2}"], retries: 0, passive_health: { max_failures: 100 } }
    circuit_breaker: { per: target, consecutive_failures: 2, open_for: 1m }
`, dead, good.start(t))
	for range 4 {
		gw.do(t, "GET", "/api/x", nil, "")
	}
	target := strings.TrimPrefix(dead, "http://")
	if got := gw.metric(t, `gateway_breaker_target_state{route="api",target="`+target+`"}`); got != 2 {
		t.Fatalf("refusing target's breaker state %v, want 2 (open)", got)
	}
	for i := range 6 {
		if resp := gw.do(t, "GET", "/api/x", nil, ""); resp.StatusCode() != 200 {
			t.Fatalf("request %d: status %d, want 200 from the live target", i, resp.StatusCode())
		}
	}
}
