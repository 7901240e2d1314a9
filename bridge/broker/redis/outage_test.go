package redis

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/bridge/broker/brokertest"
	"github.com/fastgate/gateway/internal/testserver"
)

// publishWithin publishes m with a deadline d from now.
func publishWithin(p *Publisher, m *broker.Message, d time.Duration) (broker.Ack, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.Publish(ctx, m)
}

// TestServerDown stops Redis under a Publisher: publishes fail within
// their deadline, never succeed, and Up goes false; Redis back on the
// same port, Up comes back and the same Publisher publishes again.
func TestServerDown(t *testing.T) {
	srv := testserver.Redis(t).Start()
	var states brokertest.States
	s := testSettings(srv.Addr())
	s.OnStateChange = states.Add
	p := newPublisher(t, s)
	c := admin(t, srv.Addr())
	stream := key(t, c, "down")
	if _, err := publishWithin(p, &broker.Message{Destination: stream, Payload: []byte("before")}, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	eventually(t, 10*time.Second, "Up false (PING)", func() bool { return !p.Up() })
	for i := range 6 {
		const deadline = time.Second
		m := &broker.Message{Destination: stream, Channel: i%2 == 1, Payload: []byte("down")}
		start := time.Now()
		ack, err := publishWithin(p, m, deadline)
		if elapsed := time.Since(start); elapsed > deadline+time.Second {
			t.Fatalf("publish while down took %v, past its deadline %v", elapsed, deadline)
		}
		if err == nil {
			t.Fatalf("publish while down succeeded: %+v", ack)
		}
		if !errors.Is(err, broker.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("publish while down: %v", err)
		}
		if i == 0 {
			t.Logf("publish while down: %v (after %v)", err, time.Since(start))
		}
	}

	srv.Start()
	eventually(t, 10*time.Second, "Up again (PING)", p.Up)
	ack, err := publishWithin(p, &broker.Message{Destination: stream, Payload: []byte("after")}, 5*time.Second)
	if err != nil {
		t.Fatalf("publish after restart: %v", err)
	}
	// Redis ran without persistence: the stream holds what came after.
	if entries := xrange(t, c, stream); len(entries) != 1 || entries[0].id != ack.EntryID ||
		!slices.Equal(entries[0].fields, []string{"payload", "after"}) {
		t.Fatalf("stream after restart: %+v, want the one entry %s", entries, ack.EntryID)
	}
	if got := states.Get(); !slices.Equal(got, []bool{true, false, true}) {
		t.Errorf("state changes %v, want [true false true]", got)
	}
}

// TestUpFollowsPublishes: without PING, Up follows the publishes alone.
func TestUpFollowsPublishes(t *testing.T) {
	srv := testserver.Redis(t).Start()
	s := testSettings(srv.Addr())
	s.PingInterval = -1
	p := newPublisher(t, s)
	c := admin(t, srv.Addr())
	stream := key(t, c, "noping")
	if !p.Up() {
		t.Fatal("not up after New")
	}
	srv.Stop()
	if _, err := publishWithin(p, &broker.Message{Destination: stream, Payload: []byte("x")}, time.Second); err == nil {
		t.Fatal("publish while down succeeded")
	}
	if p.Up() {
		t.Fatal("up after a publish failed to reach Redis")
	}
	srv.Start()
	eventually(t, 10*time.Second, "publish after restart", func() bool {
		_, err := publishWithin(p, &broker.Message{Destination: stream, Payload: []byte("x")}, time.Second)
		return err == nil
	})
	if !p.Up() {
		t.Fatal("not up after a publish succeeded")
	}
}

// TestStartWhileDown: New succeeds with no Redis; publishes fail at once
// until Redis starts, then succeed with no restart.
func TestStartWhileDown(t *testing.T) {
	srv := testserver.Redis(t)
	var states brokertest.States
	s := testSettings(srv.Addr())
	s.OnStateChange = states.Add
	p := newPublisher(t, s)
	if p.Up() {
		t.Fatal("up with no Redis")
	}
	const stream = "gwtest:late"
	_, err := publishWithin(p, &broker.Message{Destination: stream, Payload: []byte("x")}, 2*time.Second)
	if !errors.Is(err, broker.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish with no Redis: %v, want ErrUnavailable at once", err)
	}
	t.Logf("publish with no Redis: %v", err)

	srv.Start()
	eventually(t, 10*time.Second, "publish once Redis is up", func() bool {
		_, err := publishWithin(p, &broker.Message{Destination: stream, Payload: []byte("late")}, time.Second)
		return err == nil
	})
	if !p.Up() {
		t.Error("not up after a publish succeeded")
	}
	if got := states.Get(); !slices.Equal(got, []bool{false, true}) {
		t.Errorf("state changes %v, want [false true]", got)
	}
	c := admin(t, srv.Addr())
	if n, err := c.XLen(context.Background(), stream).Result(); err != nil || n < 1 {
		t.Fatalf("XLEN %d, %v", n, err)
	}
}
