package gateway

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/breaker"
	"github.com/fastgate/gateway/config"
)

// switchUpstream answers every request with the status it holds now,
// once an optional hold channel is closed, and counts the requests it
// got.
type switchUpstream struct {
	status atomic.Int64
	hold   atomic.Pointer[chan struct{}]
	hits   atomic.Int64
}

func (u *switchUpstream) start(t *testing.T) string {
	u.status.CompareAndSwap(0, 200)
	return startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		u.hits.Add(1)
		if h := u.hold.Load(); h != nil {
			<-*h
		}
		ctx.SetStatusCode(int(u.status.Load()))
		ctx.SetBodyString("from upstream")
	})
}

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	var up switchUpstream
	up.status.Store(500)
	gw := startGateway(t, `
routes:
  - name: api
    match: { path_prefix: /api/ }
    upstream: { targets: ["{UP1}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 3, open_for: 200ms, half_open_requests: 2 }
`, up.start(t))
	const state = `gateway_breaker_state{route="api"}`
	if got := gw.metric(t, state); got != 0 {
		t.Fatalf("%s = %v before any request, want 0", state, got)
	}
	for i := range 3 {
		if resp := gw.do(t, "GET", "/api/x", nil, ""); resp.StatusCode() != 500 {
			t.Fatalf("request %d: status %d, want the upstream's 500", i, resp.StatusCode())
		}
	}
	// Open: nothing reaches the upstream any more.
	for i := range 5 {
		resp := gw.do(t, "GET", "/api/x", nil, "")
		if resp.StatusCode() != 503 || len(resp.Header.Peek("Retry-After")) == 0 {
			t.Fatalf("open request %d: status %d, Retry-After %q; want 503 with Retry-After",
				i, resp.StatusCode(), resp.Header.Peek("Retry-After"))
		}
	}
	if got := up.hits.Load(); got != 3 {
		t.Fatalf("upstream got %d requests, want 3: an open breaker lets none through", got)
	}
	if got := gw.metric(t, state); got != 2 {
		t.Errorf("%s = %v while open, want 2", state, got)
	}

	// Half-open: exactly two probes pass, however many requests come.
	time.Sleep(250 * time.Millisecond)
	up.status.Store(200)
	// The probes are held at the upstream until every request has either
	// reached it or been rejected, so all six come while they are out.
	held := make(chan struct{})
	var release sync.Once
	let := func() { release.Do(func() { close(held) }) }
	defer let()
	up.hold.Store(&held)
	var wg sync.WaitGroup
	var passed, rejected atomic.Int64
	for range 6 {
		wg.Go(func() {
			switch gw.do(t, "GET", "/api/x", nil, "").StatusCode() {
			case 200:
				passed.Add(1)
			case 503:
				rejected.Add(1)
			}
		})
	}
	waitFor(t, 10*time.Second, func() bool { return up.hits.Load()-3+rejected.Load() >= 6 })
	let()
	wg.Wait()
	up.hold.Store(nil)
	if got := up.hits.Load() - 3; got != 2 || passed.Load() != 2 || rejected.Load() != 4 {
		t.Fatalf("half-open: %d probes reached the upstream, %d passed, %d rejected; want 2, 2, 4",
			got, passed.Load(), rejected.Load())
	}
	// Both probes succeeded: closed again.
	if got := gw.metric(t, state); got != 0 {
		t.Errorf("%s = %v after good probes, want 0", state, got)
	}
	for to, want := range map[string]float64{"open": 1, "half_open": 1, "closed": 1} {
		series := `gateway_breaker_transitions_total{route="api",to="` + to + `"}`
		if got := gw.metric(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if resp := gw.do(t, "GET", "/api/x", nil, ""); resp.StatusCode() != 200 {
		t.Fatalf("closed again: status %d, want 200", resp.StatusCode())
	}

	// A failing probe opens it again at once.
	up.status.Store(500)
	for range 3 {
		gw.do(t, "GET", "/api/x", nil, "")
	}
	time.Sleep(250 * time.Millisecond)
	before := up.hits.Load()
	if resp := gw.do(t, "GET", "/api/x", nil, ""); resp.StatusCode() != 500 {
		t.Fatalf("probe: status %d, want the upstream's 500", resp.StatusCode())
	}
	if resp := gw.do(t, "GET", "/api/x", nil, ""); resp.StatusCode() != 503 {
		t.Fatalf("after a failed probe: status %d, want 503", resp.StatusCode())
	}
	if got := up.hits.Load() - before; got != 1 {
		t.Errorf("after a failed probe the upstream got %d requests, want 1", got)
	}
	if got := gw.metric(t, state); got != 2 {
		t.Errorf("%s = %v after a failed probe, want 2", state, got)
	}
}

func TestBreakerFailureStatuses(t *testing.T) {
	tests := []struct {
		desc      string
		failureOn string
		give      int
		wantOpen  bool
	}{
		{desc: "4xx by default", give: 404, wantOpen: false},
		{desc: "5xx by default", give: 503, wantOpen: true},
		{desc: "4xx listed", failureOn: "failure_on: [404]", give: 404, wantOpen: true},
		{desc: "5xx not listed", failureOn: "failure_on: [404]", give: 500, wantOpen: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var up switchUpstream
			up.status.Store(int64(tt.give))
			gw := startGateway(t, `
routes:
  - name: api
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 2, open_for: 1m, `+tt.failureOn+` }
`, up.start(t))
			for range 5 {
				gw.do(t, "GET", "/x", nil, "")
			}
			open := up.hits.Load() == 2
			if open != tt.wantOpen || !open && up.hits.Load() != 5 {
				t.Errorf("upstream got %d of 5 requests; want the breaker open: %v", up.hits.Load(), tt.wantOpen)
			}
		})
	}
}

func TestBreakerConnectErrors(t *testing.T) {
	gw := startGateway(t, `
routes:
  - name: api
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 2, open_for: 1m }
`, deadAddr(t))
	for i, want := range []int{502, 502, 503, 503} {
		if got := gw.do(t, "GET", "/x", nil, "").StatusCode(); got != want {
			t.Errorf("request %d: status %d, want %d", i, got, want)
		}
	}
}

// TestBreakerSurvivesReload: an unchanged route keeps its open breaker
// across a reload; a changed one starts closed.
func TestBreakerSurvivesReload(t *testing.T) {
	var up switchUpstream
	up.status.Store(500)
	addr := up.start(t)
	base := strings.ReplaceAll(`
routes:
  - name: api
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 1, open_for: 1h }
`, "{UP1}", addr)
	gw := startGateway(t, base)
	gw.do(t, "GET", "/x", nil, "")
	apply := func(yaml string) {
		t.Helper()
		cfg, err := config.Parse([]byte(yaml), "test.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gw.Apply(cfg); err != nil {
			t.Fatal(err)
		}
	}
	apply(base + "  - { name: other, match: { path: /o }, respond: {} }\n")
	if s := gw.do(t, "GET", "/x", nil, "").StatusCode(); s != 503 || up.hits.Load() != 1 {
		t.Errorf("after a reload that left the route alone: status %d, %d upstream hits; want 503 and 1", s, up.hits.Load())
	}
	apply(strings.Replace(base, "open_for: 1h", "open_for: 2h", 1))
	if s := gw.do(t, "GET", "/x", nil, "").StatusCode(); s != 500 || up.hits.Load() != 2 {
		t.Errorf("after the breaker changed: status %d, %d upstream hits; want 500 from a closed breaker, and 2", s, up.hits.Load())
	}
}

// TestBreakerRetryAfter: an open breaker's 503 says in Retry-After how
// long it stays open, for a route's breaker and for per-target ones.
func TestBreakerRetryAfter(t *testing.T) {
	tests := []struct {
		desc    string
		breaker string
		want    []string // Retry-After values allowed, a slow run losing a second
	}{
		{desc: "route breaker", breaker: "{ consecutive_failures: 1, open_for: 1m }", want: []string{"60", "59"}},
		{desc: "per-target breakers", breaker: "{ per: target, consecutive_failures: 1, open_for: 2m }", want: []string{"120", "119"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var a, b switchUpstream
			a.status.Store(502)
			b.status.Store(503)
			gw := startGateway(t, `
routes:
  - name: api
    match: { path_prefix: /api/ }
    upstream: { targets: ["{UP1}", "{UP2}"], retries: 0 }
    circuit_breaker: `+tt.breaker+`
`, a.start(t), b.start(t))
			for i := 0; i < 2 && a.hits.Load()+b.hits.Load() < 2; i++ {
				gw.do(t, "GET", "/api/x", nil, "")
			}
			resp := gw.do(t, "GET", "/api/x", nil, "")
			got := string(resp.Header.Peek("Retry-After"))
			if resp.StatusCode() != 503 || got != tt.want[0] && got != tt.want[1] {
				t.Fatalf("open: status %d, Retry-After %q; want 503 with %q", resp.StatusCode(), got, tt.want[0])
			}
		})
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		give time.Duration
		want int64
	}{
		{give: 0, want: 1},
		{give: time.Millisecond, want: 1},
		{give: time.Second, want: 1},
		{give: time.Second + 1, want: 2},
		{give: 29*time.Second + 500*time.Millisecond, want: 30},
		{give: time.Minute, want: 60},
	}
	for _, tt := range tests {
		if got := retryAfterSeconds(tt.give); got != tt.want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

// TestBreakerStepSettled: while the route's breaker is settled (closed
// after a success) the step runs the rest of the pipeline itself,
// without Breaker.Do, and still counts what Do counts: an upstream
// failure (here its 503) and a panic, which goes on to the caller, one
// failure each, so that one more failure in a row opens a breaker of
// consecutive_failures: 2.
func TestBreakerStepSettled(t *testing.T) {
	status := func(code int) func(*fasthttp.RequestCtx) error {
		return func(ctx *fasthttp.RequestCtx) error { ctx.SetStatusCode(code); return nil }
	}
	for name, failure := range map[string]func(*fasthttp.RequestCtx) error{
		"503":   status(503),
		"panic": func(*fasthttp.RequestCtx) error { panic("step bug") },
	} {
		t.Run(name, func(t *testing.T) {
			br, err := breaker.New("settled", breaker.Settings{ConsecutiveFailures: 2, OpenFor: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			var answer func(*fasthttp.RequestCtx) error
			serve := (&breakerStep{br: br}).wrap(func(ctx *fasthttp.RequestCtx) error { return answer(ctx) })
			call := func(a func(*fasthttp.RequestCtx) error) (err error, panicked bool) {
				answer = a
				defer func() { panicked = recover() != nil }()
				return serve(&fasthttp.RequestCtx{}), false
			}
			if err, _ := call(status(200)); err != nil || !br.Settled() {
				t.Fatalf("after a success: %v, settled %v", err, br.Settled())
			}
			err, panicked := call(failure)
			if name == "panic" && !panicked {
				t.Fatal("the panic did not reach the caller")
			}
			if err != nil || br.State() != breaker.Closed {
				t.Fatalf("after one failure: %v, state %s, want closed", err, br.State())
			}
			call(status(503))
			if br.State() != breaker.Open {
				t.Fatalf("after a second failure in a row: state %s, want open", br.State())
			}
			if err, _ := call(status(200)); err != errRouteBreakerOpen {
				t.Errorf("open breaker: %v, want errRouteBreakerOpen", err)
			}
		})
	}
}
