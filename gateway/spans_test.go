package gateway

import (
	"bufio"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/fastgate/gateway/tracing/tracingtest"
)

// traceSpans waits until the spans rcv got of trace id, by name, include
// every one of names, and returns them.
func traceSpans(t *testing.T, rcv *tracingtest.Receiver, id string, names ...string) map[string]*tracepb.Span {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := make(map[string]*tracepb.Span)
		for _, sp := range rcv.Spans() {
			if hex.EncodeToString(sp.GetTraceId()) == id {
				got[sp.GetName()] = sp
			}
		}
		missing := false
		for _, n := range names {
			if got[n] == nil {
				missing = true
			}
		}
		if !missing {
			return got
		}
		if time.Now().After(deadline) {
			have := make([]string, 0, len(got))
			for n := range got {
				have = append(have, n)
			}
			t.Fatalf("trace %s: spans %q, want at least %q", id, have, names)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func spanAttr(sp *tracepb.Span, key string) string {
	for _, a := range sp.GetAttributes() {
		if a.GetKey() == key {
			return a.GetValue().GetStringValue()
		}
	}
	return ""
}

// TestSpansOfGatewayWork: with export on, a sampled request records a
// span for each step of the gateway's work under its own span (route
// match, rate limit, circuit breaker, upstream call, and the fallback
// when one answers), in the client's trace.
func TestSpansOfGatewayWork(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20") // export every 20ms, not 5s
	rcv := tracingtest.NewReceiver(t)
	var up flakyUpstream // garbage instead of HTTP while down
	upAddr := up.start(t)
	gw := startGateway(t, strings.ReplaceAll(`
tracing: { endpoint: "{OTLP}", insecure: true, ratio: 0 }
routes:
  - name: guarded
    match: { path_prefix: / }
    rate_limit: { rate: 1000, burst: 1000, per: client_ip }
    circuit_breaker: { consecutive_failures: 5, open_for: 1m }
    fallback: { cache: { max_stale: 1m } }
    upstream: { targets: ["{UP1}"] }
`, "{OTLP}", rcv.Endpoint()), upAddr)

	const good, failed = "4bf92f3577b34da6a3ce929d0e0e4736", "5bf92f3577b34da6a3ce929d0e0e4737"
	sampled := func(trace string) map[string]string {
		return map[string]string{"traceparent": "00-" + trace + "-00f067aa0ba902b7-01"}
	}
	if resp := gw.do(t, "GET", "/x", sampled(good), ""); resp.StatusCode() != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode())
	}
	upName := "upstream " + strings.TrimPrefix(upAddr, "http://")
	spans := traceSpans(t, rcv, good, "gateway request", "route match", "method", "rate limit", "body limit", "fallback", "circuit breaker", "upstream", upName)
	root := spans["gateway request"]
	if got := hex.EncodeToString(root.GetParentSpanId()); got != "00f067aa0ba902b7" {
		t.Errorf("request span's parent %s, want the client's span 00f067aa0ba902b7", got)
	}
	// Each step's span is a child of the step's above it, the way the
	// pipeline runs them: method, rate limit, body limit, fallback, circuit
	// breaker, then the upstream call.
	for child, parent := range map[string]string{
		"route match":     "gateway request",
		"method":          "gateway request",
		"rate limit":      "method",
		"body limit":      "rate limit",
		"fallback":        "body limit",
		"circuit breaker": "fallback",
		"upstream":        "circuit breaker",
		upName:            "upstream",
	} {
		if sp := spans[child]; sp == nil || string(sp.GetParentSpanId()) != string(spans[parent].GetSpanId()) {
			t.Errorf("span %q is not a child of %q", child, parent)
		}
	}
	for name, want := range map[string][2]string{
		"route match":     {"gateway.route", "guarded"},
		"rate limit":      {"gateway.step.outcome", "passed"},
		"circuit breaker": {"gateway.step.outcome", "passed"},
		"upstream":        {"gateway.step.outcome", "answered"},
	} {
		if got := spanAttr(spans[name], want[0]); got != want[1] {
			t.Errorf("span %q: %s = %q, want %q", name, want[0], got, want[1])
		}
	}

	good200 := gw.do(t, "GET", "/x", nil, "")
	up.down.Store(true)
	resp := gw.do(t, "GET", "/x", sampled(failed), "")
	if resp.StatusCode() != 200 || string(resp.Body()) != string(good200.Body()) {
		t.Fatalf("failing upstream: status %d body %q, want the cached copy", resp.StatusCode(), resp.Body())
	}
	spans = traceSpans(t, rcv, failed, "gateway request", "fallback", "circuit breaker", upName)
	if got := spanAttr(spans["gateway request"], "gateway.answered_by"); got != "cache" {
		t.Errorf("request span: gateway.answered_by = %q, want cache", got)
	}
	if got := spanAttr(spans["fallback"], "gateway.step.outcome"); got != "passed" {
		t.Errorf("fallback span: gateway.step.outcome = %q, want passed", got)
	}
	if code := spans["fallback"].GetStatus().GetCode(); code == tracepb.Status_STATUS_CODE_ERROR {
		t.Error("the fallback answered from its cache, yet its span is an error")
	}
	for _, name := range []string{upName, "circuit breaker"} {
		if code := spans[name].GetStatus().GetCode(); code != tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("span %q of the failed call has status %v, want an error", name, code)
		}
	}
}

// TestSpanOfBrokenAnswer: the request span of an answer the upstream
// broke after part of it reached the client ends as an error that says
// so, with the head's status, not as a success.
func TestSpanOfBrokenAnswer(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20") // export every 20ms, not 5s
	rcv := tracingtest.NewReceiver(t)
	sent := make(chan struct{}, 1)
	up := rawUpstream(t, func(c net.Conn) {
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
		select {
		case <-sent: // the client has the first chunk
		case <-time.After(5 * time.Second):
		}
		_, _ = io.WriteString(c, "zz\r\nbroken\r\n")
	})
	gw := startGateway(t, strings.ReplaceAll(`
tracing: { endpoint: "{OTLP}", insecure: true, ratio: 0 }
routes:
  - { name: r, match: { path: /r }, upstream: { targets: ["{UP1}"], retries: 0 } }
`, "{OTLP}", rcv.Endpoint()), up)

	const trace = "6bf92f3577b34da6a3ce929d0e0e4738"
	c, err := net.DialTimeout("tcp", gw.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "GET /r HTTP/1.1\r\nHost: x\r\ntraceparent: 00-"+trace+"-00f067aa0ba902b7-01\r\n\r\n")
	br := bufio.NewReader(c)
	var got strings.Builder
	for !strings.Contains(got.String(), "hello") {
		line, err := br.ReadString('\n')
		got.WriteString(line)
		if err != nil {
			t.Fatalf("%v before the first chunk; got %q", err, got.String())
		}
	}
	sent <- struct{}{}
	_, _ = io.ReadAll(br)

	root := traceSpans(t, rcv, trace, "gateway request")["gateway request"]
	if code := root.GetStatus().GetCode(); code != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("request span status %v, want an error", code)
	}
	if msg := root.GetStatus().GetMessage(); msg != errUpstreamAborted.Error() {
		t.Errorf("request span status message %q, want %q", msg, errUpstreamAborted.Error())
	}
}
