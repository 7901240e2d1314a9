package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// publishMany sends total POSTs to path through gw from 32 workers, each
// body (and idempotency key) unique, within 90s, and returns the bodies
// answered 202.
func publishMany(t *testing.T, gw *bridgeGateway, path string, total int) map[string]bool {
	t.Helper()
	var next atomic.Int64
	var mu sync.Mutex
	confirmed := make(map[string]bool, total)
	deadline := time.Now().Add(90 * time.Second)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(total) || time.Now().After(deadline) {
					return
				}
				body := fmt.Sprintf("msg-%d", i)
				if gw.do(t, "POST", path, map[string]string{"Idempotency-Key": body}, body).StatusCode() == 202 {
					mu.Lock()
					confirmed[body] = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if time.Now().After(deadline) {
		t.Fatalf("only %d of %d publishes within 90s", next.Load(), total)
	}
	return confirmed
}

// amqpQueue declares an exchange and a queue bound to it by key on the
// shared RabbitMQ, deleted at the end.
func amqpQueue(t testing.TB, url, exchange, queue, key string) *amqp091.Channel {
	t.Helper()
	conn, err := amqp091.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(exchange, "topic", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(queue, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = ch.QueueDelete(queue, false, false, false) })
	if err := ch.QueueBind(queue, key, exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	return ch
}

func TestPublishRabbitMQ(t *testing.T) {
	addr := needService(t, "rabbitmq", "127.0.0.1:5672")
	url := "amqp://guest:guest@" + addr + "/"
	tok := token(t)
	exchange, queue := "gwtest."+tok, "gwtest."+tok+".orders"
	ch := amqpQueue(t, url, exchange, queue, "orders.*")
	gw := startBridgeGateway(t, `
brokers:
  orders: { amqp: { url: "`+url+`" } }
routes:
  - name: orders
    match: { path: "/v1/orders/{id}", methods: [POST] }
    publish: { broker: orders, exchange: "`+exchange+`", routing_key: "orders.{id}", headers: [X-Tenant] }
  - name: nowhere
    match: { path: /v1/nowhere, methods: [POST] }
    publish: { broker: orders, exchange: "`+exchange+`", routing_key: "unbound.key" }
  - name: load
    match: { path: /v1/load, methods: [POST] }
    publish: { broker: orders, exchange: "`+exchange+`", routing_key: "orders.load" }
`, nil)
	resp := gw.do(t, "POST", "/v1/orders/42", map[string]string{"X-Tenant": "acme", "Idempotency-Key": "o-42", "Content-Type": "application/json"}, `{"total":10}`)
	if resp.StatusCode() != 202 || decodeAck(t, resp.Body()).Broker != "amqp" {
		t.Fatalf("status %d body %s, want 202 from amqp", resp.StatusCode(), resp.Body())
	}
	d, ok, err := ch.Get(queue, true)
	if err != nil || !ok {
		t.Fatalf("the queue holds no message (%v)", err)
	}
	if string(d.Body) != `{"total":10}` || d.RoutingKey != "orders.42" || d.MessageId != "o-42" ||
		d.ContentType != "application/json" || d.DeliveryMode != amqp091.Persistent || d.Headers["X-Tenant"] != "acme" {
		t.Errorf("delivery: body %q key %s id %s type %s mode %d headers %v", d.Body, d.RoutingKey, d.MessageId, d.ContentType, d.DeliveryMode, d.Headers)
	}
	// No queue takes it: returned, so never a 2xx.
	if resp := gw.do(t, "POST", "/v1/nowhere", nil, "x"); resp.StatusCode() != 503 {
		t.Errorf("unroutable message: status %d, want 503", resp.StatusCode())
	}

	const total = 10000
	confirmed := publishMany(t, gw, "/v1/load", total)
	seen := make(map[string]int, total)
	for deadline := time.Now().Add(60 * time.Second); len(seen) < len(confirmed) && time.Now().Before(deadline); {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		seen[string(d.Body)]++
	}
	for body := range confirmed {
		if seen[body] != 1 {
			t.Fatalf("%s answered 202 but consumed %d times", body, seen[body])
		}
	}
	if len(confirmed) != total {
		t.Errorf("%d of %d publishes confirmed with RabbitMQ up", len(confirmed), total)
	}
}

// kafkaCluster starts an in-process Kafka on port (0: any) with topic.
func kafkaCluster(t testing.TB, port int, topic string) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()[0]
}

// consumeKafka reads every record of topic until want arrived or 30s
// passed.
func consumeKafka(t *testing.T, addr, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(out) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func TestPublishKafka(t *testing.T) {
	_, addr := kafkaCluster(t, 0, "clicks")
	gw := startBridgeGateway(t, `
brokers:
  clicks: { kafka: { brokers: ["`+addr+`"] } }
routes:
  - name: clicks
    match: { path: /v1/clicks, methods: [POST] }
    publish: { broker: clicks, topic: clicks, key: "header:X-Customer", headers: [X-Tenant] }
`, nil)
	resp := gw.do(t, "POST", "/v1/clicks", map[string]string{"X-Customer": "c-9", "X-Tenant": "acme"}, "click!")
	if resp.StatusCode() != 202 {
		t.Fatalf("status %d body %s", resp.StatusCode(), resp.Body())
	}
	ack := decodeAck(t, resp.Body())
	recs := consumeKafka(t, addr, "clicks", 1)
	if len(recs) != 1 {
		t.Fatalf("consumed %d records, want 1", len(recs))
	}
	r := recs[0]
	if string(r.Value) != "click!" || string(r.Key) != "c-9" || ack.Broker != "kafka" || ack.Topic != "clicks" ||
		ack.Partition != r.Partition || ack.Offset != r.Offset {
		t.Errorf("record %q key %q at %d@%d; ack %+v", r.Value, r.Key, r.Partition, r.Offset, ack)
	}
	headers := map[string]string{}
	for _, h := range r.Headers {
		headers[h.Key] = string(h.Value)
	}
	if headers["X-Tenant"] != "acme" || headers["X-Request-Id"] == "" {
		t.Errorf("record headers %v, want X-Tenant and X-Request-Id", headers)
	}

	const total = 10000
	confirmed := publishMany(t, gw, "/v1/clicks", total)
	seen := map[string]int{}
	for _, r := range consumeKafka(t, addr, "clicks", total+1) {
		seen[string(r.Value)]++
	}
	for body := range confirmed {
		if seen[body] != 1 {
			t.Fatalf("%s answered 202 but consumed %d times", body, seen[body])
		}
	}
	if len(confirmed) != total {
		t.Errorf("%d of %d publishes confirmed with Kafka up", len(confirmed), total)
	}
}

func TestPublishKafkaDownAndBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c, addr := kafkaCluster(t, port, "events")
	gw := startBridgeGateway(t, `
brokers:
  k: { kafka: { brokers: ["`+addr+`"] } }
routes:
  - name: events
    match: { path: /v1/events, methods: [POST] }
    publish: { broker: k, topic: events, timeout: 1s }
`, nil)
	if resp := gw.do(t, "POST", "/v1/events", nil, "one"); resp.StatusCode() != 202 {
		t.Fatalf("cluster up: status %d body %s", resp.StatusCode(), resp.Body())
	}
	c.Close()
	for i := range 3 {
		start := time.Now()
		resp := gw.do(t, "POST", "/v1/events", nil, "lost?")
		if s := resp.StatusCode(); s != 503 && s != 504 {
			t.Fatalf("cluster down, publish %d: status %d, want 503 or 504", i, s)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("publish %d took %v with a 1s timeout", i, d)
		}
	}
	kafkaCluster(t, port, "events")
	waitFor(t, "a publish succeeding again", func() bool {
		return gw.do(t, "POST", "/v1/events", nil, "two").StatusCode() == 202
	})
}
