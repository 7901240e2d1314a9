package redis

import (
	"bytes"
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fastgate/gateway/bridge/broker"
)

// benchPayload is a typical small JSON body.
var benchPayload = bytes.Repeat([]byte(`{"k":"v"},`), 25)

// BenchmarkPublish appends one entry at a time through the Publisher
// (XADD MAXLEN ~ 10000, with a content type), and publishes to a channel.
func BenchmarkPublish(b *testing.B) {
	addr := sharedAddr(b)
	c := admin(b, addr)
	s := testSettings(addr)
	s.MaxLen = 10000
	p := newPublisher(b, s)
	for _, mode := range []string{"xadd", "publish"} {
		b.Run(mode, func(b *testing.B) {
			m := &broker.Message{Destination: key(b, c, "bench"), Channel: mode == "publish",
				ContentType: "application/json", Payload: benchPayload}
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

// BenchmarkPublishDirect does what BenchmarkPublish does with a client of
// the same options alone, for the adapter's cost.
func BenchmarkPublishDirect(b *testing.B) {
	addr := sharedAddr(b)
	c := admin(b, addr)
	direct := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	b.Cleanup(func() { _ = direct.Close() })
	for _, mode := range []string{"xadd", "publish"} {
		b.Run(mode, func(b *testing.B) {
			k := key(b, c, "bench")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				var err error
				if mode == "xadd" {
					err = direct.XAdd(ctx, &goredis.XAddArgs{Stream: k, MaxLen: 10000, Approx: true,
						Values: []any{"payload", benchPayload, "content-type", "application/json"}}).Err()
				} else {
					err = direct.Publish(ctx, k, benchPayload).Err()
				}
				if err != nil {
					b.Fatal(err)
				}
				cancel()
			}
		})
	}
}
