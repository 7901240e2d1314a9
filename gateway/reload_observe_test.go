package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/tracing/tracingtest"
)

// TestReloadAppliesAccessLogAndTracing: a reload that adds, changes or
// removes access_log or tracing takes effect for the requests after it,
// with no restart, and the lines of the old log are all written.
func TestReloadAppliesAccessLogAndTracing(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
	rcv := tracingtest.NewReceiver(t)
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	const routes = `
routes:
  - name: r
    match: { path_prefix: / }
    rate_limit: { rate: 1000, burst: 1000 }
    upstream: { targets: ["{UP1}"], timeout: 1s }
`
	parse := func(extra string) *config.Config {
		t.Helper()
		cfg, err := config.Parse([]byte(strings.ReplaceAll(extra+routes, "{UP1}", up)), "test.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	var out syncBuffer
	gw := serveConfigWith(t, parse(""), Options{AccessLogOutput: &out})
	apply := func(extra string) {
		t.Helper()
		res, err := gw.Apply(parse(extra))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.RestartNeeded) != 0 {
			t.Fatalf("reload says %q need a restart", res.RestartNeeded)
		}
	}
	get := func(path string, hdr map[string]string) {
		t.Helper()
		if resp := gw.do(t, "GET", path, hdr, ""); resp.StatusCode() != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode())
		}
	}

	get("/before", nil)
	apply("access_log: {}\n")
	get("/logged", nil)
	lines := out.lines(t, 1)
	if len(lines) != 1 || lines[0]["path"] != "/logged" {
		t.Fatalf("after adding access_log: %v, want one line for /logged", lines)
	}

	// Tracing on: the request's span and its steps' spans are exported.
	apply("access_log: {}\ntracing: { endpoint: \"" + rcv.Endpoint() + "\", insecure: true, ratio: 0 }\n")
	const trace = "6bf92f3577b34da6a3ce929d0e0e4738"
	get("/traced", map[string]string{"traceparent": "00-" + trace + "-00f067aa0ba902b7-01"})
	traceSpans(t, rcv, trace, "gateway request", "rate limit", "upstream")

	// Both off: nothing more is logged or exported; what was logged
	// before the reload was written.
	apply("")
	get("/quiet", map[string]string{"traceparent": "00-7bf92f3577b34da6a3ce929d0e0e4739-00f067aa0ba902b7-01"})
	// Once the requests of the old configuration are drained (the
	// upstream timeout and a second), its observer is closed: every line
	// and span it took is out.
	waitFor(t, 10*time.Second, func() bool {
		gw.observers.mu.Lock()
		defer gw.observers.mu.Unlock()
		return len(gw.observers.live) == 1
	})
	lines = out.lines(t, 2)
	if len(lines) != 2 || lines[1]["path"] != "/traced" {
		t.Fatalf("after removing access_log: %v, want the lines of /logged and /traced only", lines)
	}
	for _, sp := range rcv.Spans() {
		if strings.HasPrefix(string(sp.GetTraceId()), "\x7b\xf9") {
			t.Fatalf("span %q exported after tracing was removed", sp.GetName())
		}
	}
}
