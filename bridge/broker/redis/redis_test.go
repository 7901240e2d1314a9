package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/bridge/broker/brokertest"
)

// rawEntry is one stream entry as Redis keeps it: the fields in order,
// repeated names included.
type rawEntry struct {
	id     string
	fields []string
}

// xrange reads the whole stream k with a raw XRANGE.
func xrange(t testing.TB, c *goredis.Client, k string) []rawEntry {
	t.Helper()
	res, err := c.Do(context.Background(), "XRANGE", k, "-", "+").Slice()
	if err != nil {
		t.Fatal(err)
	}
	var out []rawEntry
	for _, e := range res {
		pair := e.([]any)
		var fields []string
		for _, f := range pair[1].([]any) {
			fields = append(fields, f.(string))
		}
		out = append(out, rawEntry{id: pair[0].(string), fields: fields})
	}
	return out
}

// TestStreamPublish: the entries in the stream are the messages as
// published, field by field and byte for byte, at the IDs in the Acks.
func TestStreamPublish(t *testing.T) {
	addr := sharedAddr(t)
	c := admin(t, addr)
	stream := key(t, c, "stream")
	p := newPublisher(t, testSettings(addr))

	tests := []struct {
		desc       string
		give       broker.Message
		wantFields []string
	}{
		{desc: "everything",
			give: broker.Message{ID: "order-1", ContentType: "application/json",
				Headers: []broker.Header{{Name: "X-Request-Id", Value: "r1"}, {Name: "X-Tag", Value: "a"}, {Name: "X-Tag", Value: "b"}},
				Payload: []byte(`{"order":1}`)},
			wantFields: []string{"payload", `{"order":1}`, "content-type", "application/json", "id", "order-1",
				"h:X-Request-Id", "r1", "h:X-Tag", "a", "h:X-Tag", "b"}},
		{desc: "binary payload", give: broker.Message{Payload: []byte{0, 0xff, '\r', '\n', 0}},
			wantFields: []string{"payload", "\x00\xff\r\n\x00"}},
		{desc: "empty payload", give: broker.Message{ID: "e"}, wantFields: []string{"payload", "", "id", "e"}},
		{desc: "content type without id", give: broker.Message{ContentType: "text/plain", Payload: []byte("x")},
			wantFields: []string{"payload", "x", "content-type", "text/plain"}},
	}
	var ids []string
	for _, tt := range tests {
		m := tt.give
		m.Destination = stream
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ack, err := p.Publish(ctx, &m)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", tt.desc, err)
		}
		if ack.Kind != "redis-stream" || ack.Stream != stream || ack.EntryID == "" {
			t.Fatalf("%s: ack %+v", tt.desc, ack)
		}
		ids = append(ids, ack.EntryID)
	}
	if !p.Up() {
		t.Error("not up after publishing")
	}

	entries := xrange(t, c, stream)
	if len(entries) != len(tests) {
		t.Fatalf("%d entries, want %d", len(entries), len(tests))
	}
	for i, tt := range tests {
		if entries[i].id != ids[i] {
			t.Errorf("%s: stored at %s, ack says %s", tt.desc, entries[i].id, ids[i])
		}
		if !slices.Equal(entries[i].fields, tt.wantFields) {
			t.Errorf("%s: fields %q, want %q", tt.desc, entries[i].fields, tt.wantFields)
		}
	}

	// A consumer reading the stream from the start gets the same.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	read, err := c.XRead(ctx, &goredis.XReadArgs{Streams: []string{stream, "0"}, Count: 100}).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(read) != 1 || len(read[0].Messages) != len(tests) {
		t.Fatalf("XREAD: %+v", read)
	}
	for i, msg := range read[0].Messages {
		if msg.ID != ids[i] || msg.Values[FieldPayload] != string(tests[i].give.Payload) {
			t.Errorf("XREAD entry %d: %s %q, want %s %q", i, msg.ID, msg.Values[FieldPayload], ids[i], tests[i].give.Payload)
		}
	}
}

// TestMaxLen: with MaxLen the stream stays near it, never below.
func TestMaxLen(t *testing.T) {
	addr := sharedAddr(t)
	c := admin(t, addr)
	stream := key(t, c, "maxlen")
	s := testSettings(addr)
	s.MaxLen = 10
	p := newPublisher(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 1000 {
		if _, err := p.Publish(ctx, &broker.Message{Destination: stream, Payload: fmt.Appendf(nil, "%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.XLen(ctx, stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	// Approximate trimming removes whole nodes (100 entries by default).
	if n < 10 || n >= 1000 {
		t.Fatalf("stream holds %d entries, want about 10", n)
	}
	t.Logf("%d entries after 1000 publishes with MaxLen 10", n)
}

// TestChannel: a subscriber gets the payload alone; the Ack counts the
// subscribers reached, and none is not an error.
func TestChannel(t *testing.T) {
	addr := sharedAddr(t)
	c := admin(t, addr)
	channel := key(t, c, "channel")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sub := c.Subscribe(ctx, channel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription is confirmed
		t.Fatal(err)
	}
	p := newPublisher(t, testSettings(addr))

	payload := []byte{'h', 0, 'i', 0xff}
	ack, err := p.Publish(ctx, &broker.Message{Destination: channel, Channel: true, ID: "i", ContentType: "text/plain",
		Headers: []broker.Header{{Name: "X-A", Value: "1"}}, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	if ack != (broker.Ack{Kind: "redis-channel", Stream: channel, Receivers: 1}) {
		t.Fatalf("ack %+v", ack)
	}
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Channel != channel || msg.Payload != string(payload) {
		t.Fatalf("got %q on %s, want %q on %s", msg.Payload, msg.Channel, payload, channel)
	}

	ack, err = p.Publish(ctx, &broker.Message{Destination: channel + ":nobody", Channel: true, Payload: payload})
	if err != nil || ack.Receivers != 0 {
		t.Fatalf("to no subscriber: ack %+v, err %v", ack, err)
	}
	if n, _ := c.Exists(ctx, channel).Result(); n != 0 {
		t.Fatal("a channel publish wrote a key")
	}
}

// TestRefused: what Redis refuses is not confirmed, and leaves Up alone.
func TestRefused(t *testing.T) {
	addr := sharedAddr(t)
	c := admin(t, addr)
	ctx := context.Background()
	str := key(t, c, "string")
	if err := c.Set(ctx, str, "not a stream", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	missing := key(t, c, "missing")
	s := testSettings(addr)
	s.RequireStream = true
	p := newPublisher(t, s)

	tests := []struct {
		desc string
		give broker.Message
	}{
		{desc: "the key holds a string", give: broker.Message{Destination: str, Payload: []byte("x")}},
		{desc: "require_stream and no stream", give: broker.Message{Destination: missing, Payload: []byte("x")}},
		{desc: "empty name", give: broker.Message{Payload: []byte("x")}},
		{desc: "empty channel name", give: broker.Message{Channel: true, Payload: []byte("x")}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			ack, err := p.Publish(ctx, &tt.give)
			if !errors.Is(err, broker.ErrNotConfirmed) || errors.Is(err, broker.ErrUnavailable) {
				t.Fatalf("ack %+v, err %v; want only ErrNotConfirmed", ack, err)
			}
			if !p.Up() {
				t.Fatal("a refusal took the publisher down")
			}
		})
	}
	if n, _ := c.Exists(ctx, missing).Result(); n != 0 {
		t.Fatal("require_stream created the stream")
	}
	if err := c.XAdd(ctx, &goredis.XAddArgs{Stream: missing, Values: []string{"k", "v"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(ctx, &broker.Message{Destination: missing, Payload: []byte("x")}); err != nil {
		t.Fatalf("require_stream with the stream there: %v", err)
	}
}

// TestNewWithClient: a borrowed client publishes, and stays open after
// Close.
func TestNewWithClient(t *testing.T) {
	addr := sharedAddr(t)
	c := admin(t, addr)
	stream := key(t, c, "borrowed")
	p, err := NewWithClient(c, Settings{MaxLen: 100, PingInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := p.Publish(ctx, &broker.Message{Destination: stream, Payload: []byte("x")})
	if err != nil || ack.EntryID == "" {
		t.Fatalf("ack %+v, err %v", ack, err)
	}
	if !p.Up() {
		t.Fatal("not up")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("the borrowed client after Close: %v", err)
	}
	if _, err := p.Publish(ctx, &broker.Message{Destination: stream, Payload: []byte("y")}); !errors.Is(err, broker.ErrUnavailable) {
		t.Fatalf("publish after Close: %v", err)
	}
	if _, err := NewWithClient(nil, Settings{}); err == nil {
		t.Fatal("NewWithClient(nil) accepted")
	}
}

// TestClose: Close is safe twice and on nil, and the Publisher is then
// down.
func TestClose(t *testing.T) {
	addr := sharedAddr(t)
	p, err := New(testSettings(addr))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Up() {
		t.Fatal("not up after New with Redis up")
	}
	brokertest.CheckClose(t, p, "gwtest:closed")
	var nilP *Publisher
	if err := nilP.Close(); err != nil || nilP.Up() {
		t.Fatal("nil publisher")
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		desc string
		give Settings
	}{
		{desc: "negative timeout", give: Settings{Timeout: -1}},
		{desc: "negative dial timeout", give: Settings{DialTimeout: -time.Second}},
		{desc: "negative pool size", give: Settings{PoolSize: -1}},
		{desc: "negative max length", give: Settings{MaxLen: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if p, err := New(tt.give); err == nil {
				_ = p.Close()
				t.Fatal("New accepted the settings")
			}
		})
	}
}
