package nats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/bridge/broker/brokertest"
	"github.com/fastgate/gateway/internal/testserver"
)

// target is where an outage test publishes, and how it reads back what
// arrived: a JetStream stream, or a core subscription.
type target struct {
	t       *testing.T
	js      bool
	srv     *testserver.Server
	stream  string
	subject string
	sub     *natsgo.Subscription // the latest core subscription
	got     []string             // ids it delivered so far
}

// ready prepares the server that just started: the stream (kept in the
// store across restarts, created when missing), or a new subscription.
func (tg *target) ready() {
	t := tg.t
	nc, js := admin(t, "nats://"+tg.srv.Addr())
	if !tg.js {
		sub, err := nc.SubscribeSync(tg.subject)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		tg.drain()
		tg.sub = sub
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// JetStream may still be recovering its store: retry, bounded.
	for {
		_, err := js.Stream(ctx, tg.stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			_, err = js.CreateStream(ctx, jetstream.StreamConfig{
				Name: tg.stream, Subjects: []string{tg.subject}, Storage: jetstream.FileStorage,
			})
		}
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("stream %s: %v", tg.stream, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// drain records what the latest core subscription delivered. Only the
// latest is read: an older one may be back too, through its client's
// reconnect, and get the same messages.
func (tg *target) drain() {
	if tg.sub == nil {
		return
	}
	for {
		msg, err := tg.sub.NextMsg(200 * time.Millisecond)
		if err != nil {
			return
		}
		tg.got = append(tg.got, msg.Header.Get(HeaderMsgID))
	}
}

// ids returns the Nats-Msg-Id of every message that arrived, in order.
func (tg *target) ids() []string {
	t := tg.t
	if !tg.js {
		tg.drain()
		return tg.got
	}
	var out []string
	_, js := admin(t, "nats://"+tg.srv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, tg.stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range fetchAll(t, st, int(info.State.Msgs)) {
		out = append(out, msg.Headers().Get(HeaderMsgID))
	}
	return out
}

// TestServerDown stops the server under a Publisher: publishes fail
// within their deadline, never succeed, and Up goes false; the server
// back on the same port, the same Publisher publishes again.
func TestServerDown(t *testing.T) {
	for _, js := range []bool{true, false} {
		t.Run(fmt.Sprintf("jetstream=%v", js), func(t *testing.T) {
			srv := testserver.NATS(t).Start()
			tg := &target{t: t, js: js, srv: srv, stream: "DOWN", subject: "gwt.down.x"}
			tg.ready()
			var states brokertest.States
			s := testSettings("nats://"+srv.Addr(), js)
			s.OnStateChange = states.Add
			p := newPublisher(t, s)
			publish := func(id string, d time.Duration) (broker.Ack, error) {
				ctx, cancel := context.WithTimeout(context.Background(), d)
				defer cancel()
				return p.Publish(ctx, &broker.Message{Destination: tg.subject, ID: id, Payload: []byte(id)})
			}
			if _, err := publish("before", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			tg.drain()

			srv.Stop()
			eventually(t, 10*time.Second, "Up false", func() bool { return !p.Up() })
			for i := range 5 {
				const deadline = time.Second
				start := time.Now()
				ack, err := publish(fmt.Sprintf("down-%d", i), deadline)
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
			tg.ready()
			// The same id on every attempt: a JetStream attempt that timed
			// out but was stored is not stored twice.
			eventually(t, 15*time.Second, "publish after restart", func() bool {
				_, err := publish("after", time.Second)
				return err == nil
			})
			if !p.Up() {
				t.Error("not up after a publish succeeded")
			}
			if got := tg.ids(); !slices.Equal(got, []string{"before", "after"}) {
				t.Errorf("arrived %q, want [before after]", got)
			}
			got := states.Get()
			if len(got) < 3 || !got[0] || got[len(got)-1] != true || !slices.Contains(got, false) {
				t.Errorf("state changes %v, want up, down ..., up", got)
			}
		})
	}
}

// TestStartWhileDown: New succeeds with no server; publishes fail at
// once until a server starts, then succeed with no restart.
func TestStartWhileDown(t *testing.T) {
	for _, js := range []bool{true, false} {
		t.Run(fmt.Sprintf("jetstream=%v", js), func(t *testing.T) {
			srv := testserver.NATS(t)
			var states brokertest.States
			s := testSettings("nats://"+srv.Addr(), js)
			s.OnStateChange = states.Add
			p := newPublisher(t, s)
			if p.Up() {
				t.Fatal("up with no server")
			}
			tg := &target{t: t, js: js, srv: srv, stream: "LATE", subject: "gwt.late.x"}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := p.Publish(ctx, &broker.Message{Destination: tg.subject, Payload: []byte("x")})
			cancel()
			if !errors.Is(err, broker.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("publish with no server: %v, want ErrUnavailable at once", err)
			}
			t.Logf("publish with no server: %v", err)

			srv.Start()
			tg.ready()
			eventually(t, 15*time.Second, "publish once the server is up", func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_, err := p.Publish(ctx, &broker.Message{Destination: tg.subject, ID: "late", Payload: []byte("late")})
				return err == nil
			})
			if got := tg.ids(); !slices.Equal(got, []string{"late"}) {
				t.Errorf("arrived %q, want [late]", got)
			}
			if got := states.Get(); !slices.Equal(got, []bool{false, true}) {
				t.Errorf("state changes %v, want [false true]", got)
			}
		})
	}
}

// TestKillDuringPublishes kills the server while 8 goroutines publish to
// a file stream: after the restart, every publish that was acknowledged
// is in the stream, and no message is in it twice.
func TestKillDuringPublishes(t *testing.T) {
	srv := testserver.NATS(t).Start()
	tg := &target{t: t, js: true, srv: srv, stream: "KILL", subject: "gwt.kill.x"}
	tg.ready()
	p := newPublisher(t, testSettings("nats://"+srv.Addr(), true))

	var (
		mu         sync.Mutex
		acked      = map[string]bool{}
		unexpected error
		wg         sync.WaitGroup
	)
	stop := make(chan struct{})
	for g := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("g%d-%d", g, i)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := p.Publish(ctx, &broker.Message{Destination: tg.subject, ID: id, Payload: []byte(id)})
				cancel()
				mu.Lock()
				switch {
				case err == nil:
					acked[id] = true
				case !errors.Is(err, broker.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) && unexpected == nil:
					unexpected = err
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	eventually(t, 20*time.Second, "200 acknowledged", func() bool { return count() >= 200 })
	srv.Stop()
	eventually(t, 10*time.Second, "Up false", func() bool { return !p.Up() })
	close(stop)
	wg.Wait()
	if unexpected != nil {
		t.Fatalf("publish: %v", unexpected)
	}

	srv.Start()
	stored := map[string]int{}
	for _, id := range tg.ids() {
		stored[id]++
		if stored[id] > 1 {
			t.Fatalf("%s stored twice", id)
		}
	}
	for id := range acked {
		if stored[id] != 1 {
			t.Fatalf("%s acknowledged but not stored", id)
		}
	}
	t.Logf("%d acknowledged, %d stored", len(acked), len(stored))
}
