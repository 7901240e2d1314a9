package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fastgate/gateway/bridge/broker"
)

// The fields of a stream entry; see the package doc.
const (
	FieldPayload     = "payload"
	FieldContentType = "content-type"
	FieldID          = "id"
	HeaderPrefix     = "h:" // before each header's name
)

// Publish appends m to the stream m.Destination (XADD), returning an Ack
// of Kind "redis-stream" with the entry's ID, or with m.Channel sends
// its payload to the channel m.Destination (PUBLISH), returning an Ack
// of Kind "redis-channel" with the number of subscribers reached (0 is
// not an error). m is only read during the call. See the package doc for
// the guarantee and the errors.
func (p *Publisher) Publish(ctx context.Context, m *broker.Message) (broker.Ack, error) {
	switch {
	case p == nil || p.client == nil || p.closed.Load():
		return broker.Ack{}, fmt.Errorf("redis: publish to %q: publisher closed: %w", m.Destination, broker.ErrUnavailable)
	case m.Destination == "":
		return broker.Ack{}, fmt.Errorf("redis: publish to an empty stream or channel name: %w", broker.ErrNotConfirmed)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	if m.Channel {
		n, err := p.client.Publish(ctx, m.Destination, m.Payload).Result()
		if err != nil {
			return broker.Ack{}, p.fail(ctx, "publish to channel", m.Destination, err)
		}
		p.setState(true, nil)
		return broker.Ack{Kind: "redis-channel", Stream: m.Destination, Receivers: n}, nil
	}
	id, err := p.client.XAdd(ctx, &goredis.XAddArgs{
		Stream:     m.Destination,
		NoMkStream: p.requireStream,
		MaxLen:     p.maxLen,
		Approx:     true,
		Values:     fields(m),
	}).Result()
	if err != nil {
		return broker.Ack{}, p.fail(ctx, "append to stream", m.Destination, err)
	}
	p.setState(true, nil)
	return broker.Ack{Kind: "redis-stream", Stream: m.Destination, EntryID: id}, nil
}

// fields are m's stream entry: field names and values in turn.
func fields(m *broker.Message) []any {
	f := make([]any, 0, 6+2*len(m.Headers))
	f = append(f, FieldPayload, m.Payload)
	if m.ContentType != "" {
		f = append(f, FieldContentType, m.ContentType)
	}
	if m.ID != "" {
		f = append(f, FieldID, m.ID)
	}
	for _, h := range m.Headers {
		f = append(f, HeaderPrefix+h.Name, h.Value)
	}
	return f
}

// fail turns the client's err for op on dest into the package's error
// (see the package doc) and records what it says about Redis.
func (p *Publisher) fail(ctx context.Context, op, dest string, err error) error {
	cause := ctx.Err()
	if dl, ok := ctx.Deadline(); cause == nil && ok && !time.Now().Before(dl) {
		cause = context.DeadlineExceeded // the socket's deadline fired first
	}
	if cause != nil {
		return fmt.Errorf("redis: %s %q: no answer in time: %w", op, dest, cause)
	}
	var reply goredis.Error
	switch {
	case errors.Is(err, goredis.Nil): // XADD NOMKSTREAM to no stream
		p.setState(true, nil)
		return fmt.Errorf("redis: %s %q: the stream does not exist (require_stream): %w", op, dest, broker.ErrNotConfirmed)
	case unavailableReply(err):
		p.setState(false, err)
		return fmt.Errorf("redis: %s %q: %w (%w)", op, dest, broker.ErrUnavailable, err)
	case errors.As(err, &reply):
		p.setState(true, nil) // Redis answered
		return fmt.Errorf("redis: %s %q: refused: %w (%w)", op, dest, broker.ErrNotConfirmed, err)
	}
	// Dial, network, pool and closed-client errors.
	p.setState(false, err)
	return fmt.Errorf("redis: %s %q: %w (%w)", op, dest, broker.ErrUnavailable, err)
}

// unavailableReply reports whether err is Redis saying it cannot take
// writes now, or will not let this client in.
func unavailableReply(err error) bool {
	return goredis.IsLoadingError(err) || goredis.IsReadOnlyError(err) ||
		goredis.IsClusterDownError(err) || goredis.IsTryAgainError(err) ||
		goredis.IsMasterDownError(err) || goredis.IsMaxClientsError(err) ||
		goredis.IsAuthError(err) || goredis.HasErrorPrefix(err, "BUSY")
}
