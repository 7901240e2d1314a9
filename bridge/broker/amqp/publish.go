package amqp

import (
	"context"
	"fmt"
	"strings"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/fastgate/gateway/bridge/broker"
)

// maxKeptBody is the largest body buffer a slot reuses; a larger one
// is replaced at the slot's next publish.
const maxKeptBody = 1 << 20

// Publish sends m to m.Exchange with routing key m.Destination, mandatory
// and persistent, and waits for the broker's confirmation. It returns nil
// only once RabbitMQ acked the message; an error wrapping
// broker.ErrNotConfirmed when the broker returned it as unroutable, nacked
// it or closed the channel over it (no such exchange, for example); one
// wrapping broker.ErrUnavailable when there is no connection or it is
// lost before the answer; and ctx's error, no later than ctx's deadline,
// when no channel was free or no answer came in time (the message may
// still be delivered then). m is not read after Publish returns.
func (p *Publisher) Publish(ctx context.Context, m *broker.Message) (broker.Ack, error) {
	if err := ctx.Err(); err != nil {
		return broker.Ack{}, fmt.Errorf("amqp: publish to %q: %w", m.Destination, err)
	}
	s := p.sess.Load()
	if s == nil {
		return broker.Ack{}, p.unavailable()
	}
	if reason := s.blocked.Load(); reason != nil {
		return broker.Ack{}, fmt.Errorf("amqp: %w: RabbitMQ blocked the connection (%s)", broker.ErrUnavailable, *reason)
	}
	var sl *slot
	select {
	case sl = <-s.free:
	case <-s.dead:
		return broker.Ack{}, lost(m.Destination)
	case <-ctx.Done():
		return broker.Ack{}, fmt.Errorf("amqp: publish to %q: no channel free in time: %w", m.Destination, ctx.Err())
	}
	// The answer comes on a channel of this publish's own: one
	// abandoned by its caller is never read by another.
	reply, _ := p.replies.Get().(chan result)
	if reply == nil {
		reply = make(chan result, 1)
	}
	sl.fill(m, reply)
	sl.job <- struct{}{}
	select {
	case r := <-reply:
		p.replies.Put(reply) // empty, and answered once only
		return r.ack()
	case <-s.dead:
		// The worker may have left without taking the job.
		return broker.Ack{}, lost(m.Destination)
	case <-ctx.Done():
		// The worker keeps the slot until the broker answers and drops
		// the answer; m is no longer read (fill copied it).
		return broker.Ack{}, fmt.Errorf("amqp: publish to %q: not confirmed in time: %w", m.Destination, ctx.Err())
	}
}

func lost(dest string) error {
	return fmt.Errorf("amqp: publish to %q: %w: connection lost", dest, broker.ErrUnavailable)
}

func (r result) ack() (broker.Ack, error) {
	if r.err != nil {
		return broker.Ack{}, r.err
	}
	return broker.Ack{Kind: "amqp"}, nil
}

// fill copies m into the slot's message, to be answered on reply.
func (sl *slot) fill(m *broker.Message, reply chan result) {
	sl.reply = reply
	if cap(sl.body) > maxKeptBody {
		sl.body = nil
	}
	sl.body = append(sl.body[:0], m.Payload...)
	sl.exchange = m.Exchange
	sl.key = m.Destination
	sl.pub = amqp091.Publishing{
		ContentType:  m.ContentType,
		DeliveryMode: amqp091.Persistent,
		MessageId:    m.ID,
		Body:         sl.body,
	}
	if len(m.Headers) > 0 {
		if sl.headers == nil {
			sl.headers = make(amqp091.Table, len(m.Headers))
		}
		clear(sl.headers)
		for _, h := range m.Headers {
			if !routingHeader(h.Name) {
				sl.headers[h.Name] = h.Value
			}
		}
		if len(sl.headers) > 0 {
			sl.pub.Headers = sl.headers
		}
	}
}

// routingHeader reports whether a header would steer RabbitMQ's routing:
// CC and BCC (sender-selected distribution) add routing keys, and a
// client must not reach queues the route does not name.
func routingHeader(name string) bool {
	return strings.EqualFold(name, "CC") || strings.EqualFold(name, "BCC")
}

// publish sends the slot's message and waits for the broker's answer.
func (sl *slot) publish() error {
	dc, err := sl.ch.PublishWithDeferredConfirm(sl.exchange, sl.key, true, false, sl.pub)
	if err != nil {
		return sl.failed(err)
	}
	select {
	case <-dc.Done():
	case <-sl.s.dead:
		return fmt.Errorf("amqp: publish to %q: %w: connection closed before the confirmation", sl.key, broker.ErrUnavailable)
	}
	// RabbitMQ sends a basic.return before the basic.ack of the same
	// message, and the library hands both over in that order from one
	// goroutine: a return of this publish is in the buffer by now.
	select {
	case r, ok := <-sl.returns:
		if ok {
			return fmt.Errorf("amqp: publish to exchange %q with routing key %q: %w: returned by the broker: %d %s",
				sl.exchange, sl.key, broker.ErrNotConfirmed, r.ReplyCode, r.ReplyText)
		}
	default:
	}
	if dc.Acked() {
		return nil
	}
	if sl.ch.IsClosed() {
		return sl.failed(amqp091.ErrClosed)
	}
	return fmt.Errorf("amqp: publish to exchange %q with routing key %q: %w: nacked by the broker",
		sl.exchange, sl.key, broker.ErrNotConfirmed)
}

// failed says why a publish failed on a closed channel or connection:
// ErrUnavailable when the connection went, ErrNotConfirmed when the
// broker closed the channel (over this publish, as a rule: no exchange,
// access refused, message too large).
func (sl *slot) failed(err error) error {
	if sl.s.conn.IsClosed() {
		return fmt.Errorf("amqp: publish to %q: %w: %v", sl.key, broker.ErrUnavailable, err)
	}
	select {
	case e, ok := <-sl.closed:
		if ok && e != nil {
			err = e
		}
	default:
	}
	if !sl.ch.IsClosed() {
		// Not a closed channel: the write itself failed.
		return fmt.Errorf("amqp: publish to %q: %w: %v", sl.key, broker.ErrUnavailable, err)
	}
	return fmt.Errorf("amqp: publish to exchange %q with routing key %q: %w: channel closed by the broker: %v",
		sl.exchange, sl.key, broker.ErrNotConfirmed, err)
}
