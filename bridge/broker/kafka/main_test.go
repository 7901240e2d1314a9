package kafka

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/fastgate/gateway/bridge/broker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newCluster starts an in-process Kafka (kfake) with one broker on
// 127.0.0.1:port (0: any free port) and the topics, with three partitions
// each. It is closed at cleanup; closing it sooner is fine.
func newCluster(t testing.TB, port int, topics ...string) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(3, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()[0]
}

// freePort returns a loopback port nothing listens on (for now).
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func newPublisher(t testing.TB, s Settings) *Publisher {
	t.Helper()
	p, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// waitUp waits (bounded) until p.Up() is want.
func waitUp(t testing.TB, p *Publisher, want bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for p.Up() != want {
		if time.Now().After(deadline) {
			t.Fatalf("Up() still %v after %v", !want, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// consume reads the records of topic from the start: at least n, then
// all that follow until none came for 300ms. It fails if n did not come
// within within.
func consume(t testing.TB, addr, topic string, n int, within time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records of %s within %v", len(recs), n, topic, within)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		recs = append(recs, fs.Records()...)
	}
	for {
		idle, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		more := cl.PollFetches(idle).Records()
		cancel()
		if len(more) == 0 {
			return recs
		}
		recs = append(recs, more...)
	}
}

// consumeAt reads the topic of ack until the record at ack's partition
// and offset, and returns it, failing after within.
func consumeAt(t testing.TB, addr string, ack broker.Ack, within time.Duration) *kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(ack.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no record at %s/%d@%d within %v", ack.Topic, ack.Partition, ack.Offset, within)
		}
		for _, r := range fs.Records() {
			if r.Partition == ack.Partition && r.Offset == ack.Offset {
				return r
			}
		}
	}
}

// header returns the value of the first header named name, and whether
// there is one.
func header(r *kgo.Record, name string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == name {
			return string(h.Value), true
		}
	}
	return "", false
}
