package nats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fastgate/gateway/bridge/broker"
)

// TestJetStreamPublish: what the stream stores is what was published,
// byte for byte, with its headers, and the Ack names its place.
func TestJetStreamPublish(t *testing.T) {
	url := sharedURL(t)
	_, js := admin(t, url)
	name := "GWT_PUB_" + unique(t)
	subject := "gwt.pub." + name
	st := newStream(t, js, name, subject, jetstream.MemoryStorage)
	p := newPublisher(t, testSettings(url, true))

	msgs := []*broker.Message{
		{Destination: subject + ".a", ID: "id-1", ContentType: "application/json",
			Headers: []broker.Header{{Name: "X-Request-Id", Value: "r1"}, {Name: "X-Tag", Value: "a"}, {Name: "X-Tag", Value: "b"}},
			Payload: []byte(`{"order":1}`)},
		{Destination: subject + ".b", Payload: []byte{0, 1, 2, 0xff, '\r', '\n', 0}},
		{Destination: subject + ".c", ID: "id-3", Payload: nil},
	}
	var acks []broker.Ack
	for _, m := range msgs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ack, err := p.Publish(ctx, m)
		cancel()
		if err != nil {
			t.Fatalf("publish to %s: %v", m.Destination, err)
		}
		if ack.Kind != "jetstream" || ack.Stream != name || ack.Sequence == 0 || ack.Duplicate {
			t.Fatalf("ack %+v", ack)
		}
		acks = append(acks, ack)
	}

	got := fetchAll(t, st, len(msgs))
	for i, msg := range got {
		m, ack := msgs[i], acks[i]
		meta, err := msg.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		if meta.Sequence.Stream != ack.Sequence || meta.Stream != ack.Stream {
			t.Errorf("message %d stored at %s/%d, ack says %s/%d", i, meta.Stream, meta.Sequence.Stream, ack.Stream, ack.Sequence)
		}
		if msg.Subject() != m.Destination {
			t.Errorf("message %d subject %q, want %q", i, msg.Subject(), m.Destination)
		}
		if !bytes.Equal(msg.Data(), m.Payload) {
			t.Errorf("message %d payload %q, want %q", i, msg.Data(), m.Payload)
		}
		h := msg.Headers()
		if got := h.Get(HeaderMsgID); got != m.ID {
			t.Errorf("message %d %s = %q, want %q", i, HeaderMsgID, got, m.ID)
		}
		if got := h.Get(HeaderContentType); got != m.ContentType {
			t.Errorf("message %d Content-Type = %q, want %q", i, got, m.ContentType)
		}
		for _, hd := range m.Headers {
			if !slices.Contains(h.Values(hd.Name), hd.Value) {
				t.Errorf("message %d header %s: %q, want %q among them", i, hd.Name, h.Values(hd.Name), hd.Value)
			}
		}
	}
	if v := got[0].Headers().Values("X-Tag"); !slices.Equal(v, []string{"a", "b"}) {
		t.Errorf("repeated header X-Tag = %q, want [a b] in order", v)
	}
}

// TestJetStreamDedup: a second publish with the same ID is acknowledged
// as a duplicate of the first, and the stream holds one message.
func TestJetStreamDedup(t *testing.T) {
	url := sharedURL(t)
	_, js := admin(t, url)
	name := "GWT_DUP_" + unique(t)
	subject := "gwt.dup." + name
	st := newStream(t, js, name, subject, jetstream.MemoryStorage)
	p := newPublisher(t, testSettings(url, true))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	m := &broker.Message{Destination: subject + ".x", ID: "order-42", Payload: []byte("first")}
	first, err := p.Publish(ctx, m)
	if err != nil || first.Duplicate {
		t.Fatalf("first publish: %+v, %v", first, err)
	}
	m.Payload = []byte("second")
	second, err := p.Publish(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Duplicate || second.Sequence != first.Sequence || second.Stream != name {
		t.Fatalf("second ack %+v, want a duplicate of %+v", second, first)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages, want 1", info.State.Msgs)
	}
	if got := fetchAll(t, st, 1)[0]; string(got.Data()) != "first" {
		t.Fatalf("stored %q, want the first", got.Data())
	}
}

// TestJetStreamErrors: a publish the server does not take is not
// confirmed, and says why.
func TestJetStreamErrors(t *testing.T) {
	url := sharedURL(t)
	_, js := admin(t, url)
	name := "GWT_ERR_" + unique(t)
	subject := "gwt.err." + name
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A stream that refuses new messages once it holds one.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{subject + ".>"}, Storage: jetstream.MemoryStorage,
		MaxMsgs: 1, Discard: jetstream.DiscardNew,
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	p := newPublisher(t, testSettings(url, true))
	if _, err := p.Publish(ctx, &broker.Message{Destination: subject + ".1", Payload: []byte("1")}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		desc string
		give *broker.Message
		want error
	}{
		{desc: "no stream captures the subject", give: &broker.Message{Destination: "gwt.nostream." + unique(t), Payload: []byte("x")}, want: broker.ErrNotConfirmed},
		{desc: "the stream is full", give: &broker.Message{Destination: subject + ".2", Payload: []byte("2")}, want: broker.ErrNotConfirmed},
		{desc: "empty subject", give: &broker.Message{Payload: []byte("x")}, want: broker.ErrNotConfirmed},
		{desc: "bad subject", give: &broker.Message{Destination: "a b", Payload: []byte("x")}, want: broker.ErrNotConfirmed},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ack, err := p.Publish(ctx, tt.give)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ack %+v, err %v; want %v", ack, err, tt.want)
			}
			if errors.Is(err, broker.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err %v also says unavailable or timed out", err)
			}
			if !p.Up() {
				t.Fatal("a refused message took the publisher down")
			}
		})
	}
}

// TestJetStreamExactlyOnce publishes 10,000 messages with IDs, 32 at a
// time, publishing every seventh a second time (a client's retry): the
// stream holds each once, and the consumer sees each once.
func TestJetStreamExactlyOnce(t *testing.T) {
	const (
		total       = 10000
		concurrency = 32
		retryEvery  = 7
	)
	url := sharedURL(t)
	_, js := admin(t, url)
	name := "GWT_EXO_" + unique(t)
	subject := "gwt.exo." + name
	st := newStream(t, js, name, subject, jetstream.MemoryStorage)
	p := newPublisher(t, testSettings(url, true))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	var (
		next       atomic.Int64
		duplicates atomic.Int64
		wg         sync.WaitGroup
		errMu      sync.Mutex
		firstErr   error
	)
	fail := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
		cancel()
	}
	for range concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				m := &broker.Message{
					Destination: fmt.Sprintf("%s.%d", subject, i%16),
					ID:          fmt.Sprintf("msg-%05d", i),
					Payload:     fmt.Appendf(nil, "payload %d", i),
				}
				tries := 1
				if i%retryEvery == 0 {
					tries = 2
				}
				var firstSeq uint64
				for try := range tries {
					pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
					ack, err := p.Publish(pctx, m)
					pcancel()
					if err != nil {
						fail(fmt.Errorf("publish %s: %w", m.ID, err))
						return
					}
					switch {
					case try == 0 && ack.Duplicate:
						fail(fmt.Errorf("first publish of %s is a duplicate", m.ID))
						return
					case try == 0:
						firstSeq = ack.Sequence
					case !ack.Duplicate || ack.Sequence != firstSeq:
						fail(fmt.Errorf("retry of %s: ack %+v, want a duplicate of %d", m.ID, ack, firstSeq))
						return
					default:
						duplicates.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	if ctx.Err() != nil {
		t.Fatalf("publishing took longer than 60s")
	}
	t.Logf("%d publishes (%d retries) in %v", total+int(duplicates.Load()), duplicates.Load(), time.Since(start))
	if want := int64((total + retryEvery - 1) / retryEvery); duplicates.Load() != want {
		t.Fatalf("%d duplicates acknowledged, want %d", duplicates.Load(), want)
	}

	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != total {
		t.Fatalf("stream holds %d messages, want %d", info.State.Msgs, total)
	}
	seen := make(map[string]int, total)
	for _, msg := range fetchAll(t, st, total) {
		id := msg.Headers().Get(HeaderMsgID)
		seen[id]++
		var i int
		if _, err := fmt.Sscanf(id, "msg-%05d", &i); err != nil || string(msg.Data()) != fmt.Sprintf("payload %d", i) {
			t.Fatalf("message %q with payload %q", id, msg.Data())
		}
	}
	if len(seen) != total {
		t.Fatalf("consumer saw %d distinct ids, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("consumer saw %s %d times", id, n)
		}
	}
}
