package nats

import (
	"bytes"
	"context"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fastgate/gateway/bridge/broker"
)

// benchPayload is a typical small JSON body.
var benchPayload = bytes.Repeat([]byte(`{"k":"v"},`), 25)

// benchStream is a memory stream for a benchmark, bounded to 100,000
// messages (the oldest go), deleted at cleanup.
func benchStream(b *testing.B, js jetstream.JetStream) string {
	b.Helper()
	name := "GWT_BENCH_" + unique(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{"gwt.bench." + name}, Storage: jetstream.MemoryStorage, MaxMsgs: 100000,
	}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	return "gwt.bench." + name
}

// BenchmarkPublish publishes one message at a time through the
// Publisher: to a JetStream stream (waiting for each PubAck) and with
// core NATS (waiting for each flush).
func BenchmarkPublish(b *testing.B) {
	url := sharedURL(b)
	_, js := admin(b, url)
	for _, mode := range []string{"jetstream", "core"} {
		b.Run(mode, func(b *testing.B) {
			subject := benchStream(b, js)
			p := newPublisher(b, testSettings(url, mode == "jetstream"))
			m := &broker.Message{Destination: subject, ContentType: "application/json", Payload: benchPayload}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				if _, err := p.Publish(ctx, m); err != nil {
					b.Fatal(err)
				}
				cancel()
			}
		})
	}
}

// BenchmarkPublishDirect does what BenchmarkPublish does with the
// client alone, for the adapter's cost.
func BenchmarkPublishDirect(b *testing.B) {
	url := sharedURL(b)
	nc, js := admin(b, url)
	for _, mode := range []string{"jetstream", "core"} {
		b.Run(mode, func(b *testing.B) {
			subject := benchStream(b, js)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				msg := &natsgo.Msg{Subject: subject, Data: benchPayload, Header: natsgo.Header{"Content-Type": {"application/json"}}}
				var err error
				if mode == "jetstream" {
					_, err = js.PublishMsg(ctx, msg)
				} else if err = nc.PublishMsg(msg); err == nil {
					err = nc.FlushWithContext(ctx)
				}
				if err != nil {
					b.Fatal(err)
				}
				cancel()
			}
		})
	}
}
