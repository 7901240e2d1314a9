package kafka

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/bridge/broker/brokertest"
)

// TestLoad publishes 10,000 records from 32 goroutines, within 60s:
// every publish that returned nil is consumed exactly once, at the
// partition and offset of its ack, and nothing is consumed twice.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 publishes")
	}
	const (
		total       = 10000
		concurrency = 32
		bound       = 60 * time.Second
	)
	_, addr := newCluster(t, 0, "load")
	p := newPublisher(t, Settings{Brokers: []string{addr}})

	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	l := brokertest.PublishLoad(ctx, p, "load", total, concurrency)
	if ctx.Err() != nil {
		t.Fatalf("publishes not done within %v", bound)
	}
	t.Log(l)
	if l.Failed > 0 {
		t.Errorf("%d publishes failed with the cluster up", l.Failed)
	}

	// Consume everything the topic holds: records of confirmed
	// publishes, and of failed ones (which may have been written).
	recs := consume(t, addr, "load", l.Confirmed, time.Until(began.Add(bound)))
	seen := make(map[string]int, total)
	for _, r := range recs {
		id, _ := header(r, HeaderIdempotencyKey)
		seen[id]++
		i, err := strconv.Atoi(id)
		if err != nil || i < 0 || i >= total || string(r.Value) != id || string(r.Key) != id {
			t.Fatalf("record %s/%d@%d: id %q, key %q, value %q", r.Topic, r.Partition, r.Offset, id, r.Key, r.Value)
		}
		if a := l.Acks[i]; a != nil && (a.Partition != r.Partition || a.Offset != r.Offset) {
			t.Errorf("record %d at %d@%d, ack says %d@%d", i, r.Partition, r.Offset, a.Partition, a.Offset)
		}
	}
	l.CheckOnce(t, seen)
}

// BenchmarkPublish is one acknowledged publish through the Publisher,
// from parallel goroutines, to a kfake broker that drops what it stores.
func BenchmarkPublish(b *testing.B) {
	addr := benchCluster(b)
	p := newPublisher(b, Settings{Brokers: []string{addr}})
	payload := make([]byte, 256)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		m := broker.Message{Destination: "bench", Key: []byte("key"), ContentType: "application/json", Payload: payload}
		ctx := context.Background()
		for pb.Next() {
			if _, err := p.Publish(ctx, &m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPublishDirect is the same produce with kgo alone: ProduceSync
// of one record, with the publisher's producer settings.
func BenchmarkPublishDirect(b *testing.B) {
	addr := benchCluster(b)
	opts, err := options(Settings{Brokers: []string{addr}})
	if err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	payload := make([]byte, 256)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			r := &kgo.Record{Topic: "bench", Key: []byte("key"), Value: payload,
				Headers: []kgo.RecordHeader{{Key: HeaderContentType, Value: []byte("application/json")}}}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchCluster(b *testing.B) string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "bench"), kfake.BlackholeProduce())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}
