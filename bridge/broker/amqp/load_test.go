package amqp

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/fastgate/gateway/bridge/broker"
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

	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	confirmed := make([]bool, total)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := broker.Message{Destination: queue, Headers: []broker.Header{{Name: "k", Value: "v"}}}
			for {
				i := int(next.Add(1) - 1)
				if i >= total || ctx.Err() != nil {
					return
				}
				pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
				m.ID = strconv.Itoa(i)
				m.Payload = strconv.AppendInt(m.Payload[:0], int64(i), 10)
				_, err := p.Publish(pctx, &m)
				pcancel()
				if err != nil {
					failed.Add(1)
					continue
				}
				confirmed[i] = true
			}
		}()
	}
	wg.Wait()
	published := time.Since(began)
	if ctx.Err() != nil {
		t.Fatalf("publishes not done within %v", bound)
	}
	nconfirmed := 0
	for _, ok := range confirmed {
		if ok {
			nconfirmed++
		}
	}
	for got.Load() < int64(nconfirmed) {
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d confirmed messages within %v", got.Load(), nconfirmed, bound)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // anything more would be a duplicate
	t.Logf("%d publishes (%d confirmed, %d failed) in %v, %.0f/s", total, nconfirmed, failed.Load(),
		published.Round(time.Millisecond), float64(total)/published.Seconds())
	if failed.Load() > 0 {
		t.Errorf("%d publishes failed with the broker up", failed.Load())
	}
	_ = a.ch.Cancel("", false)
	_ = a.conn.Close()
	<-consumed
	mu.Lock()
	defer mu.Unlock()
	for i, ok := range confirmed {
		n := received[strconv.Itoa(i)]
		if ok && n != 1 || n > 1 {
			t.Errorf("message %d (confirmed %v) consumed %d times", i, ok, n)
		}
	}
	if len(received) > total {
		t.Errorf("consumed %d distinct ids, published %d", len(received), total)
	}
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
