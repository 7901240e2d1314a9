package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/bridge/broker/amqp"
	"github.com/fastgate/gateway/bridge/broker/kafka"
	"github.com/fastgate/gateway/bridge/broker/nats"
	"github.com/fastgate/gateway/bridge/broker/redis"
	"github.com/fastgate/gateway/bridge/grpcbridge"
	"github.com/fastgate/gateway/bridge/grpcbridge/grpctest"
)

// BenchmarkGRPC compares a JSON to gRPC to JSON round trip through the
// gateway (HTTP client, gateway, gRPC server, all on loopback) with the
// same call made by the bridge directly, without HTTP.
func BenchmarkGRPC(b *testing.B) {
	srv := grpctest.Start(b, grpctest.Options{})
	const body = `{"verbose": true, "filter": {"city": "Oslo"}}`
	b.Run("gateway", func(b *testing.B) {
		yaml, files := grpcConfig(srv.Addr, false)
		gw := startBridgeGateway(b, yaml, files)
		b.ReportAllocs()
		b.ResetTimer()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			var req fasthttp.Request
			req.Header.SetMethod("POST")
			req.SetRequestURI("http://" + gw.addr + "/v1/users/42?tags=a")
			req.SetBodyString(body)
			var resp fasthttp.Response
			for pb.Next() {
				if err := gw.client.Do(&req, &resp); err != nil || resp.StatusCode() != 200 {
					b.Fatalf("status %d: %v", resp.StatusCode(), err)
				}
			}
		})
	})
	b.Run("direct", func(b *testing.B) {
		schema, err := grpcbridge.ParseDescriptorSet(grpctest.DescriptorSet())
		if err != nil {
			b.Fatal(err)
		}
		m, _ := schema.Method("test.v1.Users/GetUser")
		conn, err := grpcbridge.Dial(grpcbridge.ConnSettings{Addrs: []string{srv.Addr}})
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		ep, err := grpcbridge.NewEndpoint(m, conn, grpcbridge.EndpointSettings{})
		if err != nil {
			b.Fatal(err)
		}
		var h fasthttp.RequestHeader
		b.ReportAllocs()
		b.ResetTimer()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r := grpcbridge.Request{Body: []byte(body), Query: []byte("tags=a"), Params: []grpcbridge.Param{{Name: "id", Value: []byte("42")}}, Header: &h}
				var w grpcbridge.Response
				if err := ep.Invoke(context.Background(), &r, &w); err != nil || w.Status != 200 {
					b.Fatalf("status %d: %v", w.Status, err)
				}
			}
		})
	})
}

// BenchmarkPublish compares publishes through the gateway (HTTP POST, 202
// after the broker's confirmation) with the same adapter publishing
// directly, per broker.
func BenchmarkPublish(b *testing.B) {
	tok := strings.ToLower(token(b))
	cases := []struct {
		name, broker, route string
		direct              func(b *testing.B) (broker.Publisher, *broker.Message)
	}{
		{
			name:   "redis-stream",
			broker: `audit: { redis: { address: "127.0.0.1:6379", max_len: 10000 } }`,
			route:  `publish: { broker: audit, stream: "gwbench:` + tok + `" }`,
			direct: func(b *testing.B) (broker.Publisher, *broker.Message) {
				p, err := redis.New(redis.Settings{Addr: "127.0.0.1:6379", MaxLen: 10000})
				if err != nil {
					b.Fatal(err)
				}
				return p, &broker.Message{Destination: "gwbench:" + tok, Payload: []byte(`{"n":1}`)}
			},
		},
		{
			name:   "nats-core",
			broker: `events: { nats: { url: "nats://127.0.0.1:4222", jetstream: false } }`,
			route:  `publish: { broker: events, subject: "gwbench.` + tok + `" }`,
			direct: func(b *testing.B) (broker.Publisher, *broker.Message) {
				p, err := nats.New(nats.Settings{URL: "nats://127.0.0.1:4222"})
				if err != nil {
					b.Fatal(err)
				}
				return p, &broker.Message{Destination: "gwbench." + tok, Payload: []byte(`{"n":1}`)}
			},
		},
	}
	_, _ = jetStream(b, "nats://127.0.0.1:4222", "GWBENCH_"+strings.ToUpper(tok), "gwbenchjs."+tok, jetstream.MemoryStorage)
	amqpQueue(b, "amqp://guest:guest@127.0.0.1:5672/", "gwbench."+tok, "gwbench."+tok, "#")
	_, kafkaAddr := kafkaCluster(b, 0, "bench")
	cases = append(cases, []struct {
		name, broker, route string
		direct              func(b *testing.B) (broker.Publisher, *broker.Message)
	}{
		{
			name:   "jetstream",
			broker: `events: { nats: { url: "nats://127.0.0.1:4222" } }`,
			route:  `publish: { broker: events, subject: "gwbenchjs.` + tok + `.x" }`,
			direct: func(b *testing.B) (broker.Publisher, *broker.Message) {
				p, err := nats.New(nats.Settings{URL: "nats://127.0.0.1:4222", JetStream: true})
				if err != nil {
					b.Fatal(err)
				}
				return p, &broker.Message{Destination: "gwbenchjs." + tok + ".x", Payload: []byte(`{"n":1}`)}
			},
		},
		{
			name:   "rabbitmq",
			broker: `orders: { amqp: { url: "amqp://guest:guest@127.0.0.1:5672/" } }`,
			route:  `publish: { broker: orders, exchange: "gwbench.` + tok + `", routing_key: "k" }`,
			direct: func(b *testing.B) (broker.Publisher, *broker.Message) {
				p, err := amqp.New(amqp.Settings{URL: "amqp://guest:guest@127.0.0.1:5672/"})
				if err != nil {
					b.Fatal(err)
				}
				waitPublisherUp(b, p)
				return p, &broker.Message{Exchange: "gwbench." + tok, Destination: "k", Payload: []byte(`{"n":1}`)}
			},
		},
		{
			name:   "kafka",
			broker: `clicks: { kafka: { brokers: ["` + kafkaAddr + `"] } }`,
			route:  `publish: { broker: clicks, topic: bench }`,
			direct: func(b *testing.B) (broker.Publisher, *broker.Message) {
				p, err := kafka.New(kafka.Settings{Brokers: []string{kafkaAddr}})
				if err != nil {
					b.Fatal(err)
				}
				return p, &broker.Message{Destination: "bench", Payload: []byte(`{"n":1}`)}
			},
		},
	}...)
	for _, c := range cases {
		b.Run(c.name+"/gateway", func(b *testing.B) {
			gw := startBridgeGateway(b, "brokers:\n  "+c.broker+"\nroutes:\n  - name: p\n    match: { path: /p, methods: [POST] }\n    "+c.route+"\n", nil)
			b.ReportAllocs()
			b.ResetTimer()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				var req fasthttp.Request
				req.Header.SetMethod("POST")
				req.SetRequestURI("http://" + gw.addr + "/p")
				req.SetBodyString(`{"n":1}`)
				var resp fasthttp.Response
				for pb.Next() {
					if err := gw.client.Do(&req, &resp); err != nil || resp.StatusCode() != 202 {
						b.Fatalf("status %d: %v", resp.StatusCode(), err)
					}
				}
			})
		})
		b.Run(c.name+"/direct", func(b *testing.B) {
			p, m := c.direct(b)
			defer p.Close()
			b.ReportAllocs()
			b.ResetTimer()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := p.Publish(context.Background(), m); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// waitPublisherUp waits up to 10s for p's connection.
func waitPublisherUp(b *testing.B, p broker.Publisher) {
	for deadline := time.Now().Add(10 * time.Second); !p.Up(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("publisher not connected within 10s")
		}
	}
}
