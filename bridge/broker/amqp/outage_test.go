package amqp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/internal/testwait"
)

// TestOutage runs a RabbitMQ node of the test's own under one Publisher:
// the publisher starts while the node is down and publishes fail fast,
// then succeed once the node is up; a frozen node makes Publish return
// at its deadline; a stopped node makes publishes fail fast again, and
// once it is started again (same port) the same Publisher publishes.
func TestOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a RabbitMQ node")
	}
	n := newRabbitNode(t)
	var mu sync.Mutex
	var states []bool
	p := newPublisher(t, Settings{
		URL: n.url(), MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		ConnectTimeout: 2 * time.Second, Channels: 2,
		OnStateChange: func(up bool, err error) {
			mu.Lock()
			defer mu.Unlock()
			states = append(states, up)
		},
	})
	slack := 500 * time.Millisecond

	// publish publishes id to queue within timeout, and says how long it
	// took.
	publish := func(queue, id string, timeout time.Duration) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		began := time.Now()
		_, err := p.Publish(ctx, &broker.Message{Destination: queue, ID: id, Payload: []byte(id)})
		return time.Since(began), err
	}
	unavailable := func(step string) {
		t.Helper()
		took, err := publish("any", step, 2*time.Second)
		if !errors.Is(err, broker.ErrUnavailable) {
			t.Fatalf("%s: err = %v, want ErrUnavailable", step, err)
		}
		if took > slack {
			t.Errorf("%s: publish failed after %v, want at once", step, took)
		}
	}

	// Down from the start.
	unavailable("before the node started")
	if p.Up() {
		t.Fatal("up before the node started")
	}

	for round := range 2 {
		n.start()
		waitUp(t, p, 30*time.Second)
		a := newAdmin(t, n.url())
		queue := unique(t, "q")
		deliveries := a.queue(queue, "", "", nil)
		if _, err := publish(queue, "up", 5*time.Second); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if d := receive(t, deliveries, 5*time.Second); d.MessageId != "up" {
			t.Fatalf("round %d: got %q", round, d.MessageId)
		}

		if round == 0 {
			// Frozen: the connection stays, nothing answers.
			n.freeze()
			took, err := publish(queue, "frozen", 500*time.Millisecond)
			n.thaw()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("frozen: err = %v, want the deadline", err)
			}
			if took > 500*time.Millisecond+slack {
				t.Errorf("frozen: publish returned after %v, deadline 500ms", took)
			}
			if _, err := publish(queue, "thawed", 10*time.Second); err != nil {
				t.Fatalf("thawed: %v", err)
			}
			// The abandoned publish may have arrived too, before.
			if d := receive(t, deliveries, 5*time.Second); d.MessageId == "frozen" {
				d = receive(t, deliveries, 5*time.Second)
				if d.MessageId != "thawed" {
					t.Fatalf("thawed: got %q", d.MessageId)
				}
			} else if d.MessageId != "thawed" {
				t.Fatalf("thawed: got %q", d.MessageId)
			}
		}

		if round == 0 {
			// A memory alarm: RabbitMQ blocks the connection once it
			// publishes; then publishes fail at once until it clears.
			n.ctl("set_vm_memory_high_watermark", "0")
			if _, err := publish(queue, "alarm", 500*time.Millisecond); err == nil {
				t.Fatal("alarm: published")
			}
			waitFor(t, "blocked", func() bool { return !p.Up() })
			unavailable("blocked")
			n.ctl("set_vm_memory_high_watermark", "0.4")
			waitUp(t, p, 10*time.Second)
			if _, err := publish(queue, "cleared", 10*time.Second); err != nil {
				t.Fatalf("alarm cleared: %v", err)
			}
		}

		n.stop()
		deadline := time.Now().Add(10 * time.Second)
		for p.Up() {
			if time.Now().After(deadline) {
				t.Fatal("still up 10s after the node stopped")
			}
			time.Sleep(10 * time.Millisecond)
		}
		unavailable("node stopped")
	}

	mu.Lock()
	defer mu.Unlock()
	if len(states) < 4 || states[0] {
		t.Fatalf("state changes %v, want down first, then up and down twice", states)
	}
	for i := 1; i < len(states); i++ {
		if states[i] == states[i-1] {
			t.Fatalf("state changes %v: the same state reported twice in a row", states)
		}
	}
}

// waitFor waits until cond holds, for at most 10s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, 10*time.Second, what, cond)
}
