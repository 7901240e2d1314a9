package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/upstream"
)

// serveLogged serves yaml (placeholders {UP1}... as startGateway) with
// its log lines, as JSON, and its access log written to the given
// buffers. stop shuts it down, which flushes the access log.
func serveLogged(t *testing.T, logOut, accessOut *syncBuffer, yaml string, upstreams ...string) (addr string, stop func()) {
	t.Helper()
	for i, u := range upstreams {
		yaml = strings.ReplaceAll(yaml, "{UP"+string(rune('1'+i))+"}", u)
	}
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	gw, err := New(cfg, Options{Logger: slog.New(slog.NewJSONHandler(logOut, nil)), AccessLogOutput: accessOut})
	if err != nil {
		t.Fatal(err)
	}
	gw.server.MaxIdleWorkerDuration = 20 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = gw.Serve(ln) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		<-done
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// logLines returns the JSON lines of b whose msg is msg.
func logLines(t *testing.T, b *syncBuffer, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.b.String()), "\n") {
		var m map[string]any
		if l == "" || json.Unmarshal([]byte(l), &m) != nil {
			continue
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestUpstreamFailuresLogged: an upstream error the client gets as a
// 502/503/504 is logged with the route, target and reason, once per
// route, target and kind in a burst; a connect failure's line says why
// (refused, or a host name that does not resolve); the access log line
// says the error and the upstream's failure.
func TestUpstreamFailuresLogged(t *testing.T) {
	dead := deadAddr(t)
	closing := rawUpstream(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		_, _ = c.Read(buf)
	})
	var logOut, accessOut syncBuffer
	addr, stop := serveLogged(t, &logOut, &accessOut, `
access_log: { output: stdout }
routes:
  - { name: refused, match: { path: /refused }, upstream: { targets: ["{UP1}"], retries: 0 } }
  - { name: reset, match: { path: /reset }, upstream: { targets: ["{UP2}"], retries: 0 } }
  - { name: nohost, match: { path: /nohost }, upstream: { targets: ["{UP3}"], retries: 0 } }
`, dead, closing, "http://no-such-host.invalid:80")
	gw := &testGateway{addr: addr}
	const n = 5
	for range n {
		for _, path := range []string{"/refused", "/reset", "/nohost"} {
			if resp := gw.do(t, "GET", path, nil, ""); resp.StatusCode() != 502 {
				t.Fatalf("%s: status %d, want 502", path, resp.StatusCode())
			}
		}
	}
	stop()
	lines := logLines(t, &logOut, "gateway: upstream request failed")
	if len(lines) != 3 {
		t.Fatalf("%d log lines about failed upstream requests, want 3 (one per route, target and kind):\n%v", len(lines), lines)
	}
	want := map[string]struct{ target, reason, cause string }{
		"refused": {strings.TrimPrefix(dead, "http://"), "connect", "connection refused"},
		"reset":   {strings.TrimPrefix(closing, "http://"), "reset", ""},
		"nohost":  {"no-such-host.invalid:80", "connect", "lookup no-such-host.invalid"},
	}
	for _, l := range lines {
		w, ok := want[l["route"].(string)]
		if !ok || l["target"] != w.target || l["reason"] != w.reason || l["status"] != float64(502) || l["level"] != "WARN" {
			t.Errorf("log line %v: want route, target %s, reason %s, status 502 at WARN", l, w.target, w.reason)
		}
		if cause, _ := l["error"].(string); (w.cause == "") != (cause == "") || !strings.Contains(cause, w.cause) {
			t.Errorf("log line %v: want an error saying %q", l, w.cause)
		}
	}
	access := accessOut.lines(t, 3*n)
	for _, l := range access {
		wantKind := map[any]string{"refused": "connect", "reset": "reset", "nohost": "connect"}[l["route"]]
		if l["error"] != errUpstreamFailed.Error() || l["upstream_error"] != wantKind {
			t.Errorf("access log line %v: want error %q and upstream_error %q", l, errUpstreamFailed.Error(), wantKind)
		}
	}
}

// TestErrorLogWindow: within errorLogEvery one line per kind; the next
// one counts those left out.
func TestErrorLogWindow(t *testing.T) {
	var out syncBuffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	var l errorLog
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.report(log, "r", "10.0.0.1:80", upstream.Reset, 502, t0)
	for i := range 3 {
		l.report(log, "r", "10.0.0.1:80", upstream.Reset, 502, t0.Add(time.Duration(i+1)*time.Second))
	}
	l.report(log, "r", "10.0.0.1:80", upstream.Timeout, 504, t0.Add(time.Second)) // another kind
	l.report(log, "r", "10.0.0.1:80", upstream.Reset, 502, t0.Add(errorLogEvery))
	lines := logLines(t, &out, "gateway: upstream request failed")
	want := []struct {
		reason     string
		suppressed float64
	}{{"reset", 0}, {"timeout", 0}, {"reset", 3}}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d: %v", len(lines), len(want), lines)
	}
	for i, w := range want {
		if lines[i]["reason"] != w.reason || lines[i]["suppressed"] != w.suppressed {
			t.Errorf("line %d: %v; want reason %s, suppressed %v", i, lines[i], w.reason, w.suppressed)
		}
	}
}

// TestAccessLogBrokenMidBody: the access log line of an answer the
// upstream broke after its head says so; a good streamed answer's line
// has no error.
func TestAccessLogBrokenMidBody(t *testing.T) {
	broken := rawUpstream(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		if _, err := c.Read(buf); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
	})
	good := rawUpstream(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		if _, err := c.Read(buf); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	})
	var logOut, accessOut syncBuffer
	addr, stop := serveLogged(t, &logOut, &accessOut, `
access_log: { output: stdout }
routes:
  - { name: broken, match: { path: /broken }, upstream: { targets: ["{UP1}"], retries: 0 } }
  - { name: good, match: { path: /good }, upstream: { targets: ["{UP2}"], retries: 0 } }
`, broken, good)
	gw := &testGateway{addr: addr}
	gw.raw(t, "GET /broken HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if status, _ := gw.raw(t, "GET /good HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); status != "HTTP/1.1 200 OK" {
		t.Fatalf("good: status %q", status)
	}
	stop()
	lines := accessOut.lines(t, 2)
	for _, l := range lines {
		switch l["route"] {
		case "broken":
			if l["error"] != errUpstreamAborted.Error() || l["upstream_error"] != "protocol" {
				t.Errorf("broken answer's line %v: want error %q and upstream_error protocol", l, errUpstreamAborted.Error())
			}
		case "good":
			if l["error"] != nil || l["upstream_error"] != nil || l["status"] != float64(200) {
				t.Errorf("good answer's line %v: want status 200 and no error", l)
			}
		default:
			t.Errorf("unexpected line %v", l)
		}
	}
	if got := logLines(t, &logOut, "gateway: upstream request failed"); len(got) != 1 || got[0]["reason"] != "protocol" {
		t.Errorf("log lines %v: want one with reason protocol", got)
	}
}

// TestTunnelConnectFailureLogged: a WebSocket upgrade whose own dial to
// the target fails is logged with why (refused, no such host), as a
// proxied request's is.
func TestTunnelConnectFailureLogged(t *testing.T) {
	var logOut, accessOut syncBuffer
	addr, stop := serveLogged(t, &logOut, &accessOut, `
routes:
  - { name: refused, match: { path_prefix: /refused }, upstream: { targets: ["{UP1}"], retries: 0 } }
  - { name: nohost, match: { path_prefix: /nohost }, upstream: { targets: ["{UP2}"], retries: 0 } }
`, deadAddr(t), "http://no-such-host.invalid:80")
	gw := &testGateway{addr: addr}
	for _, path := range []string{"/refused", "/nohost"} {
		if resp := rawAnswer(t, gw, upgradeRequest(path, "")); resp.StatusCode() != 502 {
			t.Fatalf("upgrade of %s: status %d, want 502", path, resp.StatusCode())
		}
	}
	stop()
	want := map[string]string{"refused": "connection refused", "nohost": "lookup no-such-host.invalid"}
	lines := logLines(t, &logOut, "gateway: upstream request failed")
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d: %v", len(lines), len(want), lines)
	}
	for _, l := range lines {
		cause, _ := l["error"].(string)
		if w, ok := want[l["route"].(string)]; !ok || l["reason"] != "connect" || !strings.Contains(cause, w) {
			t.Errorf("log line %v: want reason connect and an error saying %q", l, w)
		}
	}
}
