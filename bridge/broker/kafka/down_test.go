package kafka

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/fastgate/gateway/bridge/broker"
)

// TestPublishDownFailsPromptly checks that a publish while no broker is
// reachable fails with ErrUnavailable well before its deadline (the
// record would otherwise wait in the client for DeliveryTimeout), both
// for a cluster that was never there and for one that stopped, with the
// default PingInterval, and that the publisher writes again soon after
// the cluster is back.
func TestPublishDownFailsPromptly(t *testing.T) {
	const deadline = 5 * time.Second
	const prompt = 2 * time.Second
	publish := func(p *Publisher) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		began := time.Now()
		_, err := p.Publish(ctx, &broker.Message{Destination: "events", Payload: []byte("x")})
		return time.Since(began), err
	}
	// promptFailure publishes (at most attempts times) until one fails
	// with ErrUnavailable within prompt.
	promptFailure := func(t *testing.T, p *Publisher, attempts int) {
		t.Helper()
		for i := range attempts {
			took, err := publish(p)
			if err == nil {
				t.Fatalf("attempt %d: published with no broker reachable", i)
			}
			if errors.Is(err, broker.ErrUnavailable) && took < prompt {
				t.Logf("attempt %d: %v after %v", i, err, took.Round(time.Millisecond))
				return
			}
			t.Logf("attempt %d: %v after %v", i, err, took.Round(time.Millisecond))
		}
		t.Fatalf("no publish failed with ErrUnavailable within %v (deadline %v)", prompt, deadline)
	}

	t.Run("never there", func(t *testing.T) {
		down := make(chan struct{}, 1)
		p := newPublisher(t, Settings{
			Brokers: []string{"127.0.0.1:" + strconv.Itoa(freePort(t))},
			OnStateChange: func(up bool, _ error) {
				if !up {
					down <- struct{}{}
				}
			},
		})
		select {
		case <-down:
		case <-time.After(10 * time.Second):
			t.Fatal("no down state reported within 10s")
		}
		promptFailure(t, p, 1)
	})

	t.Run("stopped", func(t *testing.T) {
		port := freePort(t)
		c, addr := newCluster(t, port, "events")
		p := newPublisher(t, Settings{Brokers: []string{addr}})
		if _, err := publish(p); err != nil {
			t.Fatalf("cluster up: %v", err)
		}
		// The first publish after the stop, sent before the publisher
		// could notice, stops waiting once it does.
		c.Close()
		promptFailure(t, p, 1)

		// Back on the same port: written to again well within the
		// PingInterval, bounded.
		newCluster(t, port, "events")
		began := time.Now()
		for {
			_, err := publish(p)
			if err == nil {
				t.Logf("published again %v after the cluster restarted", time.Since(began).Round(time.Millisecond))
				break
			}
			if time.Since(began) > 15*time.Second {
				t.Fatalf("still failing 15s after the cluster restarted: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
