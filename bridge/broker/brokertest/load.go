// Package brokertest drives the broker adapters' Publishers the same way
// in their tests.
package brokertest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fastgate/gateway/bridge/broker"
)

// Load is what PublishLoad did.
type Load struct {
	// Acks holds, by message number, the broker's confirmation of each
	// publish that returned nil; nil for one that failed or was not sent.
	Acks      []*broker.Ack
	Confirmed int
	Failed    int64
	Took      time.Duration
}

// PublishLoad publishes total messages to destination from concurrency
// goroutines until ctx ends: message i has ID and payload
// strconv.Itoa(i) and the header "k: v", and each publish gets at most
// 10 s.
func PublishLoad(ctx context.Context, p broker.Publisher, destination string, total, concurrency int) Load {
	l := Load{Acks: make([]*broker.Ack, total)}
	began := time.Now()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := broker.Message{Destination: destination, Headers: []broker.Header{{Name: "k", Value: "v"}}}
			for {
				i := int(next.Add(1) - 1)
				if i >= total || ctx.Err() != nil {
					return
				}
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				m.ID = strconv.Itoa(i)
				m.Payload = strconv.AppendInt(m.Payload[:0], int64(i), 10)
				ack, err := p.Publish(pctx, &m)
				cancel()
				if err != nil {
					failed.Add(1)
					continue
				}
				l.Acks[i] = &ack
			}
		}()
	}
	wg.Wait()
	l.Took, l.Failed = time.Since(began), failed.Load()
	for _, a := range l.Acks {
		if a != nil {
			l.Confirmed++
		}
	}
	return l
}

func (l Load) String() string {
	return fmt.Sprintf("%d publishes (%d confirmed, %d failed) in %v, %.0f/s", len(l.Acks), l.Confirmed, l.Failed,
		l.Took.Round(time.Millisecond), float64(len(l.Acks))/l.Took.Seconds())
}

// CheckOnce fails t for each message consumed more than once, or, when
// its publish was confirmed, not exactly once; consumed counts the
// messages taken from the broker by ID.
func (l Load) CheckOnce(t testing.TB, consumed map[string]int) {
	t.Helper()
	for i, a := range l.Acks {
		n := consumed[strconv.Itoa(i)]
		if a != nil && n != 1 || n > 1 {
			t.Errorf("message %d (confirmed %v) consumed %d times", i, a != nil, n)
		}
	}
	if len(consumed) > len(l.Acks) {
		t.Errorf("consumed %d distinct ids, published %d", len(consumed), len(l.Acks))
	}
}
