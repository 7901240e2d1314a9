package kafka

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/fastgate/gateway/bridge/broker"
)

// TestOutage runs one Publisher through a cluster that is not there yet,
// comes up, is closed and comes back on the same port, twice: while no
// broker answers, Publish fails no later than its deadline (never
// succeeds), Up turns false, and once a broker answers again the same
// Publisher writes again.
func TestOutage(t *testing.T) {
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var mu sync.Mutex
	var states []bool
	p := newPublisher(t, Settings{
		Brokers: []string{addr}, PingInterval: 50 * time.Millisecond, DialTimeout: time.Second,
		DeliveryTimeout: time.Second, RequestTimeout: time.Second,
		OnStateChange: func(up bool, err error) {
			mu.Lock()
			defer mu.Unlock()
			states = append(states, up)
		},
	})
	const timeout = time.Second
	slack := 500 * time.Millisecond

	// failing publishes with the cluster down: none succeeds, each
	// returns by its deadline.
	failing := func(step string) {
		t.Helper()
		for i := range 2 {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			began := time.Now()
			ack, err := p.Publish(ctx, &broker.Message{Destination: "events", Payload: []byte(step)})
			took := time.Since(began)
			cancel()
			if err == nil {
				t.Fatalf("%s %d: published (%+v) with the cluster down", step, i, ack)
			}
			if !errors.Is(err, broker.ErrUnavailable) && !errors.Is(err, broker.ErrNotConfirmed) &&
				!errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s %d: err = %v, want ErrUnavailable, ErrNotConfirmed or the deadline", step, i, err)
			}
			if i == 0 {
				t.Logf("%s: %v after %v", step, err, took.Round(time.Millisecond))
			}
			if took > timeout+slack {
				t.Errorf("%s %d: publish returned after %v, deadline %v", step, i, took, timeout)
			}
		}
	}
	// succeeding publishes once the cluster is back, bounded; returns
	// the ack of the first success.
	succeeding := func(step string) broker.Ack {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for i := 0; ; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			ack, err := p.Publish(ctx, &broker.Message{Destination: "events", ID: step, Payload: []byte(step)})
			cancel()
			if err == nil {
				t.Logf("%s: published after %d failed attempts", step, i)
				return ack
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still failing after 30s: %v", step, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	failing("before the cluster")
	if p.Up() {
		t.Fatal("up before the cluster")
	}

	// Round 0 starts a cluster, round 1 restarts it with its data (as a
	// broker restarts), round 2 replaces it with an empty one, where
	// the topic is new (another topic ID) under the same name.
	dir := t.TempDir()
	for round := range 3 {
		opts := []kfake.Opt{kfake.Ports(port), kfake.SeedTopics(3, "events")}
		if round < 2 {
			opts = append(opts, kfake.DataDir(dir))
		}
		c, err := kfake.NewCluster(opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		step := "round " + strconv.Itoa(round)
		ack := succeeding(step)
		waitUp(t, p, true, 10*time.Second)
		// Up may come from the publish; wait for a metadata request to
		// see the cluster too, and report it.
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			up := len(states) > 0 && states[len(states)-1]
			mu.Unlock()
			if up {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no up state reported within 10s", step)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The cluster holds the record where the ack says.
		r := consumeAt(t, addr, ack, 10*time.Second)
		if string(r.Value) != step || string(r.Key) != step {
			t.Fatalf("%s: record at %s/%d@%d is %q, key %q", step, ack.Topic, ack.Partition, ack.Offset, r.Value, r.Key)
		}
		c.Close()
		waitUp(t, p, false, 10*time.Second)
		failing(step + ", cluster closed")
	}

	mu.Lock()
	defer mu.Unlock()
	if len(states) != 7 || states[0] {
		t.Fatalf("state changes %v, want down first, then up and down three times", states)
	}
	for i := 1; i < len(states); i++ {
		if states[i] == states[i-1] {
			t.Fatalf("state changes %v: the same state reported twice in a row", states)
		}
	}
}

// TestCloseWhileDown closes a publisher whose records wait for a cluster
// that never comes: the waiting publish returns ErrUnavailable.
func TestCloseWhileDown(t *testing.T) {
	// A broker that accepts connections and never answers: neither the
	// pings nor the record end before Close (a refused connection would
	// turn the publisher down and end the publish first).
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	p := newPublisher(t, Settings{Brokers: []string{silent.Addr().String()}, DialTimeout: time.Minute, DeliveryTimeout: time.Minute})
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := p.Publish(ctx, &broker.Message{Destination: "events", Payload: []byte("x")})
		errc <- err
	}()
	// Close once the record waits in the client for the cluster.
	for deadline := time.Now().Add(10 * time.Second); p.cl.BufferedProduceRecords() == 0; time.Sleep(5 * time.Millisecond) {
		select {
		case err := <-errc:
			t.Fatalf("the publish returned %v before its record was buffered", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no record buffered within 10s")
		}
	}
	_ = p.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, broker.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("publish still waiting 10s after Close")
	}
}
