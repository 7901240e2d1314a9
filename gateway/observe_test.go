package gateway

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
)

// syncBuffer is an access log output the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines waits (bounded) until the log holds n lines and returns them
// decoded.
func (s *syncBuffer) lines(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		raw := strings.Split(strings.TrimSpace(s.b.String()), "\n")
		s.mu.Unlock()
		if len(raw) >= n && raw[0] != "" {
			var out []map[string]any
			for _, l := range raw {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("line %q is not JSON: %v", l, err)
				}
				out = append(out, m)
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d access log lines after 5s, want %d:\n%s", len(raw), n, s.b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startLoggedGateway(t *testing.T, out *syncBuffer, yaml string, upstreams ...string) *testGateway {
	t.Helper()
	for i, u := range upstreams {
		yaml = strings.ReplaceAll(yaml, "{UP"+string(rune('1'+i))+"}", u)
	}
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return serveConfigWith(t, cfg, Options{AccessLogOutput: out})
}

// TestAccessLogEveryAnswer: each kind of answer writes one line with its
// route, status and what answered.
func TestAccessLogEveryAnswer(t *testing.T) {
	var up flakyUpstream
	var out syncBuffer
	gw := startLoggedGateway(t, &out, `
access_log: { headers: [User-Agent] }
routes:
  - name: proxied
    match: { path_prefix: /p/ }
    upstream: { targets: ["{UP1}"] }
  - name: hello
    match: { path: /hello }
    respond: { body: hi }
    access_log: { sample: 1 }
  - name: small
    match: { path: /small }
    max_body_size: 4
    respond: {}
  - name: limited
    match: { path: /limited }
    rate_limit: { rate: 1/h, burst: 1 }
    respond: {}
  - name: quiet
    match: { path: /quiet }
    respond: {}
    access_log: { off: true }
  - name: guarded
    match: { path_prefix: /g/ }
    upstream: { targets: ["{UP1}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 1, open_for: 1m }
    fallback: { cache: {} }
`, up.start(t))
	steps := []struct {
		method, path, body string
		wantStatus         int
		wantRoute          string
		wantSource         string
	}{
		{"GET", "/p/x?secret=1", "", 200, "proxied", "upstream"},
		{"GET", "/hello", "", 200, "hello", "respond"},
		{"GET", "/nowhere", "", 404, "", "error"},
		{"POST", "/small", "too long", 413, "small", "error"},
		{"GET", "/limited", "", 200, "limited", "respond"},
		{"GET", "/limited", "", 429, "limited", "rate_limit"},
		{"GET", "/quiet", "", 200, "", ""}, // not logged
		{"GET", "/g/page", "", 200, "guarded", "upstream"},
	}
	for _, s := range steps {
		if resp := gw.do(t, s.method, s.path, map[string]string{"User-Agent": "test-agent", "Authorization": "Bearer secret"}, s.body); resp.StatusCode() != s.wantStatus {
			t.Fatalf("%s %s: status %d, want %d", s.method, s.path, resp.StatusCode(), s.wantStatus)
		}
	}
	up.down.Store(true)
	gw.do(t, "GET", "/g/page", nil, "") // fails, served from the cache; the breaker opens
	gw.do(t, "GET", "/g/new", nil, "")  // breaker open, no copy
	lines := out.lines(t, 9)
	want := []struct {
		route, source string
		status        float64
	}{
		{"proxied", "upstream", 200}, {"hello", "respond", 200}, {"", "error", 404}, {"small", "error", 413},
		{"limited", "respond", 200}, {"limited", "rate_limit", 429}, {"guarded", "upstream", 200},
		{"guarded", "cache", 200}, {"guarded", "breaker", 503},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d (the quiet route is off):\n%v", len(lines), len(want), lines)
	}
	for i, w := range want {
		l := lines[i]
		route, _ := l["route"].(string)
		if route != w.route || l["source"] != w.source || l["status"] != w.status {
			t.Errorf("line %d: route %q source %v status %v; want %q %q %v", i, route, l["source"], l["status"], w.route, w.source, w.status)
		}
		if l["request_id"] == nil || l["client"] != "127.0.0.1" || l["method"] == nil || l["duration_ms"] == nil {
			t.Errorf("line %d lacks request id, client, method or duration: %v", i, l)
		}
	}
	first := lines[0]
	if first["path"] != "/p/x" || first["query"] != nil || !strings.HasPrefix(first["upstream"].(string), "127.0.0.1:") {
		t.Errorf("proxied line %v: want the path without query and the upstream address", first)
	}
	if h, _ := first["headers"].(map[string]any); h["user-agent"] != "test-agent" || h["authorization"] != nil {
		t.Errorf("headers %v: want user-agent and never authorization", first["headers"])
	}
}

// blockingWriter blocks every write until released.
type blockingWriter struct{ release chan struct{} }

func (w *blockingWriter) Write(p []byte) (int, error) { <-w.release; return len(p), nil }

// TestAccessLogNeverBlocks: a writer that does not move neither stops nor
// slows requests; the lines that do not fit are dropped and counted.
func TestAccessLogNeverBlocks(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	cfg, err := config.Parse([]byte(`
access_log: { buffer: 4 }
routes:
  - { name: hello, match: { path: /hello }, respond: { body: hi } }
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gw := serveConfigWith(t, cfg, Options{AccessLogOutput: w})
	defer close(w.release)
	start := time.Now()
	for i := range 50 {
		if resp := gw.do(t, "GET", "/hello", nil, ""); resp.StatusCode() != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode())
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("50 requests took %v with a stuck log writer", d)
	}
	// The writer holds one line, the queue 4; the rest are dropped.
	if got := gw.metric(t, "gateway_access_log_dropped_total"); got < 40 {
		t.Errorf("gateway_access_log_dropped_total = %v, want at least 40 of 50", got)
	}
}

// TestTraceparentPassedOn: the upstream gets the client's trace id with
// the gateway's own span id; a malformed traceparent is dropped; the
// access log carries the trace id.
func TestTraceparentPassedOn(t *testing.T) {
	got := make(chan [2]string, 4)
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		got <- [2]string{string(ctx.Request.Header.Peek("traceparent")), string(ctx.Request.Header.Peek("tracestate"))}
	})
	var out syncBuffer
	gw := startLoggedGateway(t, &out, `
access_log: {}
routes:
  - { name: r, match: { path_prefix: / }, upstream: { targets: ["{UP1}"] } }
`, up)
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	gw.do(t, "GET", "/", map[string]string{"traceparent": "00-" + trace + "-00f067aa0ba902b7-01", "tracestate": "vendor=x"}, "")
	h := <-got
	parts := strings.Split(h[0], "-")
	if len(parts) != 4 || parts[1] != trace || parts[2] == "00f067aa0ba902b7" || parts[3] != "01" || h[1] != "vendor=x" {
		t.Errorf("upstream got traceparent %q tracestate %q: want trace %s, a new span id, flags 01, tracestate kept", h[0], h[1], trace)
	}
	gw.do(t, "GET", "/", map[string]string{"traceparent": "00-zzzz-00f067aa0ba902b7-01", "tracestate": "vendor=x"}, "")
	if h := <-got; h[0] != "" || h[1] != "" {
		t.Errorf("malformed traceparent passed on: %q %q", h[0], h[1])
	}
	gw.do(t, "GET", "/", nil, "")
	if h := <-got; h[0] != "" {
		t.Errorf("no traceparent from the client, none expected upstream with export off; got %q", h[0])
	}
	if lines := out.lines(t, 3); lines[0]["trace_id"] != trace {
		t.Errorf("access log trace_id %v, want %s", lines[0]["trace_id"], trace)
	}
}

// TestAccessLogClientPath: the access log shows the path and query the
// client asked for, not the path strip_prefix sent upstream.
func TestAccessLogClientPath(t *testing.T) {
	got := make(chan string, 2)
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { got <- string(ctx.RequestURI()) })
	var out syncBuffer
	gw := startLoggedGateway(t, &out, `
access_log: { query: true }
routes:
  - { name: api, match: { path_prefix: /api/ }, strip_prefix: /api, upstream: { targets: ["{UP1}"] } }
`, up)
	for _, p := range []string{"/api/users/7?fields=name", "/api//users/./8?x=1"} {
		if resp := gw.do(t, "GET", p, nil, ""); resp.StatusCode() != 200 {
			t.Fatalf("GET %s: status %d", p, resp.StatusCode())
		}
	}
	if a, b := <-got, <-got; a != "/users/7?fields=name" || b != "/users/8?x=1" {
		t.Fatalf("upstream got %q and %q, want the prefix stripped", a, b)
	}
	want := [][2]string{{"/api/users/7", "fields=name"}, {"/api/users/8", "x=1"}}
	for i, l := range out.lines(t, 2) {
		if l["path"] != want[i][0] || l["query"] != want[i][1] {
			t.Errorf("line %d: path %v query %v, want %q %q", i, l["path"], l["query"], want[i][0], want[i][1])
		}
	}
}

// TestAccessLogUpstream429: on a rate-limited route an upstream's own 429
// is the upstream's answer; only the gateway's refusal is rate_limit.
func TestAccessLogUpstream429(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
		ctx.SetBodyString("slow down, from upstream")
	})
	var out syncBuffer
	gw := startLoggedGateway(t, &out, `
access_log: {}
routes:
  - name: limited
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"], retries: 0 }
    rate_limit: { rate: 1/h, burst: 1 }
`, up)
	for i, want := range []string{"slow down, from upstream", `"error":"rate limit exceeded"`} {
		resp := gw.do(t, "GET", "/x", nil, "")
		if resp.StatusCode() != 429 || !strings.Contains(string(resp.Body()), want) {
			t.Fatalf("request %d: status %d, body %q; want 429 with %q", i, resp.StatusCode(), resp.Body(), want)
		}
	}
	lines := out.lines(t, 2)
	for i, want := range []string{"upstream", "rate_limit"} {
		if l := lines[i]; l["status"] != float64(429) || l["source"] != want {
			t.Errorf("line %d: status %v source %v; want 429 %s", i, l["status"], l["source"], want)
		}
	}
}
