package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fastgate/gateway/bridge/broker"
)

// Header names the publisher adds to every record that has the value.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderContentType    = "Content-Type"
)

// maxKeptBuffer is the largest record buffer kept for reuse.
const maxKeptBuffer = 1 << 20

// States of a pending publish.
const (
	waiting   int32 = iota // the caller waits for the promise
	answered               // the promise sent its error on done
	abandoned              // the caller left; the promise recycles
)

// pending is one record on its way, from Publish to its promise. The
// record's key, value and header values live in buf, a copy of the
// message, since the client may still hold the record after Publish
// returned at its deadline. Pendings are pooled: one goes back to the
// pool after the caller read its answer, or, when the caller left, from
// the promise.
type pending struct {
	p       *Publisher
	rec     kgo.Record
	headers []kgo.RecordHeader
	buf     []byte
	state   atomic.Int32
	done    chan error // capacity 1
	promise func(*kgo.Record, error)
}

func (p *Publisher) get() *pending {
	if pd, ok := p.pool.Get().(*pending); ok {
		pd.state.Store(waiting)
		return pd
	}
	pd := &pending{p: p, done: make(chan error, 1), buf: make([]byte, 0, 256)}
	pd.promise = pd.finish
	return pd
}

func (p *Publisher) put(pd *pending) {
	if cap(pd.buf) > maxKeptBuffer {
		pd.buf = make([]byte, 0, 256)
	}
	clear(pd.headers) // drop the strings it refers to
	pd.rec = kgo.Record{}
	p.pool.Put(pd)
}

// finish is the record's promise, called by the client once.
func (pd *pending) finish(r *kgo.Record, err error) {
	if err == nil && pd.p.state.Load() != stateUp {
		pd.p.setState(stateUp)
	}
	if err != nil && errors.Is(err, kerr.UnknownTopicID) {
		select {
		case pd.p.purge <- r.Topic:
		default: // the watch loop has purges to do already
		}
	}
	if pd.state.CompareAndSwap(waiting, answered) {
		pd.done <- err
		return
	}
	pd.p.put(pd)
}

// Publish produces m as one record to the topic m.Destination and waits
// until the partition's in-sync replicas have it. The record's key is
// m.Key or, when that is empty and m.ID is set, m.ID; its headers are
// m.Headers, then Idempotency-Key (m.ID) and Content-Type (m.ContentType)
// when set. It returns the partition and offset Kafka stored the record
// at; an error wrapping broker.ErrNotConfirmed when Kafka refused the
// record (a missing topic, a record too large, not enough replicas); one
// wrapping broker.ErrUnavailable when no broker took it in time
// (Settings.DeliveryTimeout), the client's buffer is full, the
// publisher is closed, or, at once, while the last metadata request
// found no broker reachable (see Up); and ctx's error, no later than ctx's deadline,
// when Kafka has not answered by then (the record may still be written,
// up to DeliveryTimeout later). m is not read after Publish returns.
func (p *Publisher) Publish(ctx context.Context, m *broker.Message) (broker.Ack, error) {
	if m.Destination == "" {
		return broker.Ack{}, fmt.Errorf("kafka: %w: no topic", broker.ErrNotConfirmed)
	}
	if err := ctx.Err(); err != nil {
		return broker.Ack{}, fmt.Errorf("kafka: produce to %q: %w", m.Destination, err)
	}
	if p.state.Load() == stateDown {
		// The record would wait in the client for DeliveryTimeout: say
		// now that no broker answers, and have that checked again.
		p.nudge()
		return broker.Ack{}, errNotConnected
	}
	down := *p.down.Load()
	pd := p.get()
	pd.fill(m)
	// The record's context is the publisher's, not ctx: franz-go fails
	// every buffered record of a partition when the first one's context
	// ends, so one caller leaving must not fail the others. TryProduce
	// fails at once when the buffer is full instead of blocking past
	// ctx.
	p.cl.TryProduce(p.ctx, &pd.rec, pd.promise)
	var err error
	select {
	case err = <-pd.done:
	case <-ctx.Done():
		if pd.state.CompareAndSwap(waiting, abandoned) {
			p.nudge() // a cluster gone quiet: find out before the next ping
			return broker.Ack{}, fmt.Errorf("kafka: produce to %q: not acknowledged in time: %w", m.Destination, ctx.Err())
		}
		err = <-pd.done // answered just now
	case <-down:
		// The cluster went away under the record; it may still be
		// written if a broker comes back within DeliveryTimeout.
		if pd.state.CompareAndSwap(waiting, abandoned) {
			return broker.Ack{}, fmt.Errorf("kafka: produce to %q: %w", m.Destination, errNotConnected)
		}
		err = <-pd.done
	}
	if err != nil {
		p.put(pd)
		return broker.Ack{}, p.failed(m.Destination, err)
	}
	ack := broker.Ack{Kind: "kafka", Topic: m.Destination, Partition: pd.rec.Partition, Offset: pd.rec.Offset}
	p.put(pd)
	return ack, nil
}

// fill makes pd's record from m, copying its bytes into pd.buf.
func (pd *pending) fill(m *broker.Message) {
	key := m.Key
	idKey := len(key) == 0 && m.ID != ""
	n := len(key) + len(m.Payload) + len(m.ID) + len(m.ContentType)
	if idKey {
		n += len(m.ID)
	}
	for _, h := range m.Headers {
		n += len(h.Value)
	}
	if cap(pd.buf) < n {
		pd.buf = make([]byte, 0, n)
	}
	// buf does not grow below, so the slices into it stay valid.
	buf := pd.buf[:0]
	r := &pd.rec
	r.Topic = m.Destination
	switch {
	case len(key) > 0:
		buf = append(buf, key...)
		r.Key = buf[:len(key):len(key)]
	case idKey:
		buf = append(buf, m.ID...)
		r.Key = buf[:len(m.ID):len(m.ID)]
	}
	start := len(buf)
	buf = append(buf, m.Payload...)
	r.Value = buf[start:len(buf):len(buf)] // empty, not nil, for an empty payload
	hs := pd.headers[:0]
	for _, h := range m.Headers {
		start = len(buf)
		buf = append(buf, h.Value...)
		hs = append(hs, kgo.RecordHeader{Key: h.Name, Value: buf[start:len(buf):len(buf)]})
	}
	if m.ID != "" {
		start = len(buf)
		buf = append(buf, m.ID...)
		hs = append(hs, kgo.RecordHeader{Key: HeaderIdempotencyKey, Value: buf[start:len(buf):len(buf)]})
	}
	if m.ContentType != "" {
		start = len(buf)
		buf = append(buf, m.ContentType...)
		hs = append(hs, kgo.RecordHeader{Key: HeaderContentType, Value: buf[start:len(buf):len(buf)]})
	}
	pd.headers = hs
	if len(hs) > 0 {
		r.Headers = hs
	}
}

// failed wraps a produce error in the broker error it stands for.
func (p *Publisher) failed(topic string, err error) error {
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		// Kafka answered with an error code, possibly the last one
		// before the record timed out.
		return fmt.Errorf("kafka: produce to %q: %w: %v", topic, broker.ErrNotConfirmed, err)
	case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries),
		errors.Is(err, kgo.ErrMaxBuffered), errors.Is(err, kgo.ErrClientClosed),
		errors.Is(err, context.Canceled), isNetError(err):
		return fmt.Errorf("kafka: produce to %q: %w: %v", topic, broker.ErrUnavailable, err)
	default:
		return fmt.Errorf("kafka: produce to %q: %w: %v", topic, broker.ErrNotConfirmed, err)
	}
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}
