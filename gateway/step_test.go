package gateway

import (
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
)

// toyStep is a step as a new feature would add one: this file and its row
// in stepTable, nothing else. It refuses a request without X-Toy with an
// answer of its own, marks the answers of the steps below it, and counts
// how often it was closed.
type toyStep struct {
	closed *atomic.Int32
	next   handler
}

var errToyRefused = &answer{status: fasthttp.StatusTeapot, msg: "toy says no", source: "toy",
	headers: []headerKV{{key: "WWW-Authenticate", value: []byte(`Toy realm="test"`)}}}

func (s *toyStep) wrap(next handler) handler {
	s.next = next
	return s.serve
}

func (s *toyStep) serve(ctx *fasthttp.RequestCtx) error {
	if len(ctx.Request.Header.Peek("X-Toy")) == 0 {
		return errToyRefused
	}
	if err := s.next(ctx); err != nil {
		return err
	}
	ctx.Response.Header.Set("X-Toy-Saw", "yes")
	return nil
}

func (s *toyStep) close() { s.closed.Add(1) }

func (s *toyStep) drainTime() time.Duration { return 0 }

// withStep puts def into stepTable before the row named before, until
// the test ends.
func withStep(t *testing.T, def stepDef, before string) {
	t.Helper()
	saved := stepTable
	i := slices.IndexFunc(stepTable, func(d stepDef) bool { return d.name == before })
	if i < 0 {
		t.Fatalf("no step %q in the table", before)
	}
	stepTable = slices.Insert(slices.Clone(stepTable), i, def)
	t.Cleanup(func() { stepTable = saved })
}

// TestStepTableTakesANewStep: a step registered in the table runs for the
// routes it builds for, in its place (before the rate limit: what it
// refuses takes no token), answers with its own status and answer source,
// is left out of routes it does not build for, and is closed when its
// route leaves service.
func TestStepTableTakesANewStep(t *testing.T) {
	var closed atomic.Int32
	withStep(t, stepDef{name: "toy", build: func(b *routeBuild) (step, error) {
		if !strings.HasPrefix(b.rc.Name, "toy") {
			return nil, nil
		}
		return &toyStep{closed: &closed}, nil
	}}, "rate_limit")

	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("upstream") })
	var out syncBuffer
	const routes = `
access_log: {}
routes:
  - name: toy-route
    match: { path: /toy }
    rate_limit: { rate: 1, burst: 1 }
    upstream: { targets: ["{UP1}"], timeout: 1s }
  - name: plain
    match: { path: /plain }
    upstream: { targets: ["{UP1}"] }
`
	gw := startLoggedGateway(t, &out, routes, up)

	for range 3 {
		resp := gw.do(t, "GET", "/toy", nil, "")
		var body map[string]string
		if resp.StatusCode() != fasthttp.StatusTeapot || json.Unmarshal(resp.Body(), &body) != nil ||
			body["error"] != "toy says no" || body["route"] != "toy-route" {
			t.Fatalf("without X-Toy: %d %q, want 418 with the gateway's JSON error", resp.StatusCode(), resp.Body())
		}
		if got := string(resp.Header.Peek("WWW-Authenticate")); got != `Toy realm="test"` {
			t.Fatalf("without X-Toy: WWW-Authenticate %q, want the answer's own", got)
		}
	}
	// The three refusals took no token of the rate limit below the step.
	resp := gw.do(t, "GET", "/toy", map[string]string{"X-Toy": "1"}, "")
	if resp.StatusCode() != 200 || string(resp.Body()) != "upstream" || string(resp.Header.Peek("X-Toy-Saw")) != "yes" {
		t.Fatalf("with X-Toy: %d %q X-Toy-Saw=%q, want the upstream's 200 marked by the step",
			resp.StatusCode(), resp.Body(), resp.Header.Peek("X-Toy-Saw"))
	}
	if resp := gw.do(t, "GET", "/toy", map[string]string{"X-Toy": "1"}, ""); resp.StatusCode() != 429 {
		t.Fatalf("second admitted request: %d, want 429 from the rate limit after the step", resp.StatusCode())
	}
	if resp := gw.do(t, "GET", "/plain", nil, ""); resp.StatusCode() != 200 || len(resp.Header.Peek("X-Toy-Saw")) != 0 {
		t.Fatalf("route without the step: %d X-Toy-Saw=%q", resp.StatusCode(), resp.Header.Peek("X-Toy-Saw"))
	}

	lines := out.lines(t, 6)
	for i, want := range []string{"toy", "toy", "toy", "upstream", "rate_limit", "upstream"} {
		if got := lines[i]["source"]; got != want {
			t.Errorf("access log line %d: source %v, want %s", i, got, want)
		}
	}

	// A reload that drops the route closes its step once it is drained.
	kept := strings.ReplaceAll(routes[:strings.Index(routes, "  - name: plain")], "toy-route", "plain")
	cfg, err := config.Parse([]byte(strings.ReplaceAll(kept, "{UP1}", up)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for closed.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the step of the removed route was not closed within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := closed.Load(); n != 1 {
		t.Errorf("the step was closed %d times, want 1", n)
	}
}
