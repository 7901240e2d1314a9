package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/metrics"
)

// logBuffer collects JSON log lines, safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the decoded lines whose msg is msg.
func (b *logBuffer) lines(t testing.TB, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func TestFailureLogRateLimited(t *testing.T) {
	var buf logBuffer
	f := newFailureLog(slog.New(slog.NewJSONHandler(&buf, nil)), "orders", "rabbit")
	t0 := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	nack := fmt.Errorf("amqp: publish to %q: nacked: %w", "orders.new", broker.ErrNotConfirmed)
	f.record(metrics.PublishNotConfirmed, nack, t0)
	for i := 1; i <= 5; i++ {
		f.record(metrics.PublishNotConfirmed, nack, t0.Add(time.Duration(i)*time.Second))
	}
	f.record(metrics.PublishTimeout, context.DeadlineExceeded, t0.Add(2*time.Second)) // another reason: its own line
	f.record(metrics.PublishNotConfirmed, nack, t0.Add(failureLogInterval))
	f.record(metrics.PublishNotConfirmed, nack, t0.Add(failureLogInterval+time.Second))

	got := buf.lines(t, "gateway: publish failed")
	want := []struct {
		result     string
		suppressed float64
	}{{"not_confirmed", 0}, {"timeout", 0}, {"not_confirmed", 5}}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		l := got[i]
		if l["result"] != w.result || l["suppressed"] != w.suppressed || l["route"] != "orders" ||
			l["broker"] != "rabbit" || l["level"] != "WARN" {
			t.Errorf("line %d: %v, want result %s suppressed %v", i, l, w.result, w.suppressed)
		}
	}
	if e, _ := got[0]["error"].(string); !strings.Contains(e, "nacked") {
		t.Errorf("error %q, want the broker's reason", e)
	}
}

// refusingPublisher refuses every message with the broker's reason.
type refusingPublisher struct{}

func (refusingPublisher) Publish(context.Context, *broker.Message) (broker.Ack, error) {
	return broker.Ack{}, fmt.Errorf("amqp: publish to %q: returned by the broker: NO_ROUTE: %w", "orders.new", broker.ErrNotConfirmed)
}
func (refusingPublisher) Up() bool     { return true }
func (refusingPublisher) Close() error { return nil }

// TestPublishNotConfirmedLogged: publishes the broker refuses answer 503
// and are logged, once for a burst, with the broker's reason.
func TestPublishNotConfirmedLogged(t *testing.T) {
	cfg, err := config.Parse([]byte(`
brokers:
  rabbit: { amqp: { url: "amqp://127.0.0.1:1/" } }
routes:
  - name: orders
    match: { path: /v1/orders, methods: [POST] }
    publish: { broker: rabbit, routing_key: orders.new, exchange: orders }
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var buf logBuffer
	gw, err := New(cfg, Options{
		Logger:  slog.New(slog.NewJSONHandler(&buf, nil)),
		Brokers: func(string, *config.Broker) (broker.Publisher, error) { return refusingPublisher{}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	gw.server.MaxIdleWorkerDuration = 20 * time.Millisecond // see TestMain
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = gw.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		<-served
	}()
	c := &fasthttp.HostClient{Addr: ln.Addr().String()}
	for i := range 3 {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://x/v1/orders")
		req.Header.SetMethod("POST")
		req.SetBodyString(`{"id":1}`)
		if err := c.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != 503 {
			t.Errorf("publish %d: status %d, want 503", i, resp.StatusCode())
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
	c.CloseIdleConnections()
	got := buf.lines(t, "gateway: publish failed")
	if len(got) != 1 {
		t.Fatalf("%d lines for 3 refused publishes within %v, want 1: %v", len(got), failureLogInterval, got)
	}
	e, _ := got[0]["error"].(string)
	if got[0]["route"] != "orders" || got[0]["result"] != "not_confirmed" || !strings.Contains(e, "NO_ROUTE") {
		t.Errorf("line %v, want route orders, result not_confirmed and the broker's reason", got[0])
	}
}
