package broker

import (
	"context"
	"fmt"
)

// PublishWithin calls p.Publish and returns no later than ctx is done,
// whatever the client library does: a publish still blocked inside the
// library when ctx ends is left to finish in the background and its result
// dropped, and ctx's error is returned (context.DeadlineExceeded on a
// timeout). The publish runs on a deep copy of m, so the caller may reuse
// m's buffers as soon as PublishWithin returns.
func PublishWithin(ctx context.Context, p Publisher, m *Message) (Ack, error) {
	type result struct {
		ack Ack
		err error
	}
	own := m.Clone()
	done := make(chan result, 1)
	go func() {
		ack, err := p.Publish(ctx, own)
		done <- result{ack, err}
	}()
	select {
	case r := <-done:
		return r.ack, r.err
	case <-ctx.Done():
		return Ack{}, fmt.Errorf("broker: publish to %q not confirmed in time: %w", m.Destination, ctx.Err())
	}
}

// Clone returns a copy of m that shares no memory with it.
func (m *Message) Clone() *Message {
	c := *m
	c.Key = append([]byte(nil), m.Key...)
	c.Payload = append([]byte(nil), m.Payload...)
	c.Headers = append([]Header(nil), m.Headers...)
	return &c
}
