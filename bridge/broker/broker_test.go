package broker

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestAckJSON(t *testing.T) {
	tests := []struct {
		desc string
		give Ack
		want map[string]any
	}{
		{desc: "jetstream", give: Ack{Kind: "jetstream", Stream: "ORDERS", Sequence: 7, Duplicate: true},
			want: map[string]any{"broker": "jetstream", "stream": "ORDERS", "sequence": 7.0, "duplicate": true}},
		{desc: "kafka offset zero is kept", give: Ack{Kind: "kafka", Topic: "t\"q", Partition: 0, Offset: 0},
			want: map[string]any{"broker": "kafka", "topic": "t\"q", "partition": 0.0, "offset": 0.0}},
		{desc: "redis stream", give: Ack{Kind: "redis-stream", Stream: "s", EntryID: "1-0"},
			want: map[string]any{"broker": "redis-stream", "stream": "s", "id": "1-0"}},
		{desc: "redis channel", give: Ack{Kind: "redis-channel", Stream: "c", Receivers: 2},
			want: map[string]any{"broker": "redis-channel", "channel": "c", "receivers": 2.0}},
		{desc: "amqp", give: Ack{Kind: "amqp"}, want: map[string]any{"broker": "amqp"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var got map[string]any
			if err := json.Unmarshal(tt.give.AppendJSON(nil), &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

// stuck is a publisher that ignores its context, as some clients do. It
// closes wrote, when not nil, once it has written to the payload.
type stuck struct{ release, wrote chan struct{} }

func (s *stuck) Publish(ctx context.Context, m *Message) (Ack, error) {
	<-s.release
	m.Payload[0] = 'X' // writes its own copy, never the caller's buffer
	if s.wrote != nil {
		close(s.wrote)
	}
	return Ack{Kind: "nats"}, nil
}
func (s *stuck) Up() bool     { return true }
func (s *stuck) Close() error { return nil }

func TestPublishWithinReturnsAtDeadline(t *testing.T) {
	p := &stuck{release: make(chan struct{}), wrote: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	payload := []byte("abc")
	_, err := PublishWithin(ctx, p, &Message{Destination: "d", Payload: payload})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	close(p.release)
	select {
	case <-p.wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck publish did not finish within 10s of its release")
	}
	if string(payload) != "abc" {
		t.Errorf("caller's payload changed to %q", payload)
	}
}

func TestPublishWithinPassesResult(t *testing.T) {
	p := &stuck{release: make(chan struct{})}
	close(p.release)
	ack, err := PublishWithin(context.Background(), p, &Message{Payload: []byte("x")})
	if err != nil || ack.Kind != "nats" {
		t.Fatalf("ack %+v err %v", ack, err)
	}
}
