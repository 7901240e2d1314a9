package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fastgate/gateway/bridge/broker"
)

// Header names the Publisher sets itself.
const (
	HeaderMsgID       = jetstream.MsgIDHeader // Nats-Msg-Id, from Message.ID
	HeaderContentType = "Content-Type"        // from Message.ContentType
)

// Publish sends m to the subject m.Destination. With JetStream it
// returns once the stream stored m, with an Ack of Kind "jetstream"
// (Stream, Sequence, Duplicate); without, once the server received it,
// with an Ack of Kind "nats". m is only read during the call. See the
// package doc for the errors.
func (p *Publisher) Publish(ctx context.Context, m *broker.Message) (broker.Ack, error) {
	if err := p.ready("publish to", m); err != nil {
		return broker.Ack{}, err
	}
	ctx, cancel := p.bound(ctx)
	if cancel != nil {
		defer cancel()
	}
	msg := message(m)
	if p.js != nil {
		pa, err := p.js.PublishMsg(ctx, msg)
		if err != nil {
			return broker.Ack{}, p.fail(ctx, "publish to", m.Destination, err)
		}
		return broker.Ack{Kind: "jetstream", Stream: pa.Stream, Sequence: pa.Sequence, Duplicate: pa.Duplicate}, nil
	}
	if err := p.nc.PublishMsg(msg); err != nil {
		return broker.Ack{}, p.fail(ctx, "publish to", m.Destination, err)
	}
	// The PONG comes after the server read everything sent before the
	// PING, the message included.
	if err := p.nc.FlushWithContext(ctx); err != nil {
		return broker.Ack{}, p.fail(ctx, "publish to", m.Destination, err)
	}
	return broker.Ack{Kind: "nats"}, nil
}

// Request sends m to the subject m.Destination, with the same headers
// as Publish, and returns the payload of the first reply, which the
// caller owns. No subscriber on the subject is an error wrapping
// broker.ErrNoResponders. Request goes through core NATS, with or without
// JetStream (a request to a stream's subject is answered by the stream's
// PubAck as JSON).
func (p *Publisher) Request(ctx context.Context, m *broker.Message) ([]byte, error) {
	if err := p.ready("request to", m); err != nil {
		return nil, err
	}
	ctx, cancel := p.bound(ctx)
	if cancel != nil {
		defer cancel()
	}
	reply, err := p.nc.RequestMsgWithContext(ctx, message(m))
	if err != nil {
		return nil, p.fail(ctx, "request to", m.Destination, err)
	}
	return reply.Data, nil
}

// ready returns the error for a call that cannot go out at all.
func (p *Publisher) ready(op string, m *broker.Message) error {
	switch {
	case p == nil || p.nc == nil || p.closing.Load():
		return fmt.Errorf("nats: %s %q: publisher closed: %w", op, m.Destination, broker.ErrUnavailable)
	case m.Destination == "":
		return fmt.Errorf("nats: %s an empty subject: %w", op, broker.ErrNotConfirmed)
	case !p.nc.IsConnected():
		return fmt.Errorf("nats: %s %q: no connection to a server: %w", op, m.Destination, broker.ErrUnavailable)
	}
	return nil
}

// bound gives ctx the deadline Settings.Timeout when it has none.
func (p *Publisher) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, nil
	}
	return context.WithTimeout(ctx, p.timeout)
}

// message is m as a NATS message. Data is m.Payload itself: the client
// copies it into its write buffer before the publish returns.
func message(m *broker.Message) *natsgo.Msg {
	msg := &natsgo.Msg{Subject: m.Destination, Data: m.Payload}
	if m.ID == "" && m.ContentType == "" && len(m.Headers) == 0 {
		return msg
	}
	h := make(natsgo.Header, len(m.Headers)+2)
	for _, hd := range m.Headers {
		if reserved(hd.Name) {
			continue
		}
		h[hd.Name] = append(h[hd.Name], hd.Value)
	}
	if m.ContentType != "" {
		h[HeaderContentType] = []string{m.ContentType}
	}
	if m.ID != "" {
		h[HeaderMsgID] = []string{m.ID}
	}
	msg.Header = h
	return msg
}

// reserved reports whether name begins with "Nats-" in any case: the
// headers that steer the server.
func reserved(name string) bool {
	return len(name) >= 5 && strings.EqualFold(name[:5], "Nats-")
}

// unavailable are the client's errors for a connection that is not
// there.
var unavailable = []error{
	natsgo.ErrConnectionClosed,
	natsgo.ErrConnectionReconnecting,
	natsgo.ErrReconnectBufExceeded,
	natsgo.ErrNoServers,
	natsgo.ErrDisconnected,
	natsgo.ErrConnectionDraining,
	natsgo.ErrStaleConnection,
	natsgo.ErrInvalidConnection,
}

// fail turns the client's err for op on subject into the package's
// error (see the package doc).
func (p *Publisher) fail(ctx context.Context, op, subject string, err error) error {
	cause := ctx.Err()
	if cause == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, natsgo.ErrTimeout)) {
		cause = context.DeadlineExceeded
	}
	if cause != nil {
		if !p.nc.IsConnected() {
			return fmt.Errorf("nats: %s %q: connection lost before the answer: %w (%w)", op, subject, broker.ErrUnavailable, cause)
		}
		return fmt.Errorf("nats: %s %q: no answer in time: %w", op, subject, cause)
	}
	for _, u := range unavailable {
		if errors.Is(err, u) {
			return fmt.Errorf("nats: %s %q: %w (%w)", op, subject, broker.ErrUnavailable, err)
		}
	}
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		return fmt.Errorf("nats: %s %q: no JetStream stream captures the subject: %w (%w)", op, subject, broker.ErrNotConfirmed, err)
	case errors.Is(err, natsgo.ErrNoResponders):
		return fmt.Errorf("nats: %s %q: no subscriber: %w (%w)", op, subject, broker.ErrNoResponders, err)
	}
	return fmt.Errorf("nats: %s %q: refused: %w (%w)", op, subject, broker.ErrNotConfirmed, err)
}
