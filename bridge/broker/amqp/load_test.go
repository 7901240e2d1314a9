package amqp

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/bridge/broker/brokertest"
)

// TestLoad publishes 10,000 messages from 32 goroutines, within 60s:
// every publish that returned nil is consumed exactly once, and nothing
// is consumed twice.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 publishes")
	}
	const (
		total       = 10000
		concurrency = 32
		bound       = 60 * time.Second
	)
	url := sharedURL(t)
	a := newAdmin(t, url)
	queue := unique(t, "q")
	deliveries := a.queue(queue, "", "", nil)
	p := newPublisher(t, Settings{URL: url})
	waitUp(t, p, 10*time.Second)

	var (
		mu       sync.Mutex
		received = make(map[string]int, total)
		got      atomic.Int64
	)
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for d := range deliveries {
			mu.Lock()
			received[d.MessageId]++
			mu.Unlock()
			got.Add(1)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	l := brokertest.PublishLoad(ctx, p, queue, total, concurrency)
	if ctx.Err() != nil {
		t.Fatalf("publishes not done within %v", bound)
	}
	for got.Load() < int64(l.Confirmed) {
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d confirmed messages within %v", got.Load(), l.Confirmed, bound)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // anything more would be a duplicate
	t.Log(l)
	if l.Failed > 0 {
		t.Errorf("%d publishes failed with the broker up", l.Failed)
	}
	_ = a.ch.Cancel("", false)
	_ = a.conn.Close()
	<-consumed
	mu.Lock()
	defer mu.Unlock()
	l.CheckOnce(t, received)
}

// BenchmarkPublish is one confirmed publish through the Publisher, from
// parallel goroutines.
func BenchmarkPublish(b *testing.B) {
	url := sharedURL(b)
	a := newAdmin(b, url)
	queue := unique(b, "q")
	purge(b, a, queue)
	p := newPublisher(b, Settings{URL: url})
	waitUp(b, p, 10*time.Second)
	payload := make([]byte, 256)
	b.ReportAllocs()
	b.SetParallelism(4) // 8 goroutines on 2 cores: as many as the publisher's channels
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		m := broker.Message{Destination: queue, ID: "id", ContentType: "application/json", Payload: payload}
		ctx := context.Background()
		for pb.Next() {
			if _, err := p.Publish(ctx, &m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPublishDirect is the same publish with amqp091 alone: one
// confirm-mode channel per goroutine, publish and wait for the confirm.
func BenchmarkPublishDirect(b *testing.B) {
	url := sharedURL(b)
	a := newAdmin(b, url)
	queue := unique(b, "q")
	purge(b, a, queue)
	conn, err := amqp091.Dial(url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	payload := make([]byte, 256)
	b.ReportAllocs()
	b.SetParallelism(4) // 8 goroutines on 2 cores: as many as the publisher's channels
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ch, err := conn.Channel()
		if err != nil {
			b.Error(err)
			return
		}
		defer ch.Close()
		if err := ch.Confirm(false); err != nil {
			b.Error(err)
			return
		}
		returns := ch.NotifyReturn(make(chan amqp091.Return, 1))
		ctx := context.Background()
		for pb.Next() {
			dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false, amqp091.Publishing{
				ContentType: "application/json", DeliveryMode: amqp091.Persistent, MessageId: "id", Body: payload,
			})
			if err != nil {
				b.Error(err)
				return
			}
			if !dc.Wait() {
				b.Error("nacked")
				return
			}
			select {
			case <-returns:
				b.Error("returned")
				return
			default:
			}
		}
	})
}

// purge declares queue for a benchmark and deletes what it holds at the
// end; nothing consumes it.
func purge(b *testing.B, a *admin, queue string) {
	b.Helper()
	if _, err := a.ch.QueueDeclare(queue, false, true, true, false, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = a.ch.QueueDelete(queue, false, false, false) })
}
