package gateway

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/config"
)

// downPublisher is a broker connection that never comes up.
type downPublisher struct{}

func (downPublisher) Publish(context.Context, *broker.Message) (broker.Ack, error) {
	return broker.Ack{}, broker.ErrUnavailable
}
func (downPublisher) Up() bool     { return false }
func (downPublisher) Close() error { return nil }

// TestBrokersConnectConcurrently: three brokers that never come up hold
// up the start for one brokerConnectWait, not three one after another,
// and the gateway is ready once it started.
func TestBrokersConnectConcurrently(t *testing.T) {
	cfg, err := config.Parse([]byte(`
brokers:
  a: { nats: { url: "nats://127.0.0.1:1" } }
  b: { nats: { url: "nats://127.0.0.1:1" } }
  c: { nats: { url: "nats://127.0.0.1:1" } }
routes:
  - name: hello
    match: { path: /hello }
    respond: { status: 200, body: "hi" }
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var calls []time.Time
	connect := func(string, *config.Broker) (broker.Publisher, error) {
		mu.Lock()
		calls = append(calls, time.Now())
		mu.Unlock()
		return downPublisher{}, nil
	}
	start := time.Now()
	gw, err := New(cfg, Options{Brokers: connect})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = gw.Shutdown(context.Background()) }()
	if len(calls) != 3 {
		t.Fatalf("%d brokers connected, want 3", len(calls))
	}
	// Each connection is asked for before any wait for one ended.
	if spread := calls[2].Sub(calls[0]); spread >= brokerConnectWait {
		t.Errorf("third broker connected %v after the first: one after another", spread)
	}
	if took >= 2*brokerConnectWait {
		t.Errorf("start took %v with three brokers down, want about one wait of %v", took, brokerConnectWait)
	}
	if !gw.Ready() {
		t.Error("not ready after start: no broker is required")
	}
}
