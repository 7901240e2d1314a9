package broker

import (
	"context"
	"errors"
	"strconv"
)

// Publisher publishes messages to one broker connection. Implementations
// are safe for concurrent use, reconnect on their own with backoff, and
// return from Publish no later than ctx's deadline.
type Publisher interface {
	// Publish sends m and waits for the broker's confirmation. A nil
	// error means the broker confirmed the message.
	Publish(ctx context.Context, m *Message) (Ack, error)
	// Up reports whether the publisher holds a live connection.
	Up() bool
	// Close stops reconnecting and closes the connection. It is safe to
	// call after a failed start and more than once.
	Close() error
}

// Requester is implemented by publishers whose broker has request-reply
// (NATS): the reply's payload is returned.
type Requester interface {
	Request(ctx context.Context, m *Message) ([]byte, error)
}

// Header is one message header.
type Header struct {
	Name  string
	Value string
}

// Message is one publish. Its fields are only read during Publish; the
// caller may reuse them afterwards.
type Message struct {
	// Destination is where the message goes: the NATS subject, the AMQP
	// routing key, the Kafka topic, the Redis stream or channel.
	Destination string
	// Exchange is the AMQP exchange; empty is the default exchange.
	// Other brokers ignore it.
	Exchange string
	// Channel makes the Redis publisher PUBLISH to the channel
	// Destination (at most once) instead of XADD to the stream. Other
	// brokers ignore it.
	Channel bool
	// Key is the message key: the Kafka record key. Empty: none.
	Key []byte
	// ID is the client's idempotency key; empty: none. It becomes the
	// message id where the broker deduplicates or carries one: JetStream's
	// Nats-Msg-Id, AMQP's message_id, a Kafka record header.
	ID string
	// ContentType is the payload's media type; empty: none.
	ContentType string
	// Headers are sent as message headers where the broker has them.
	Headers []Header
	// Payload is the message body.
	Payload []byte
}

// Ack is what the broker returned for a confirmed message. Kind says
// which of the other fields are set.
type Ack struct {
	// Kind is the broker kind: "nats", "jetstream", "amqp", "kafka",
	// "redis-stream" or "redis-channel".
	Kind string
	// Stream, Sequence and Duplicate: the JetStream stream, the message's
	// sequence in it, and whether the stream already had its id.
	Stream    string
	Sequence  uint64
	Duplicate bool
	// Topic, Partition and Offset: where Kafka stored the record.
	Topic     string
	Partition int32
	Offset    int64
	// EntryID is the Redis stream entry id.
	EntryID string
	// Receivers is how many subscribers a Redis PUBLISH reached.
	Receivers int64
}

// AppendJSON appends a as a JSON object to dst, with the fields its Kind
// sets.
func (a *Ack) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"broker":`...)
	dst = strconv.AppendQuote(dst, a.Kind)
	switch a.Kind {
	case "jetstream":
		dst = append(dst, `,"stream":`...)
		dst = strconv.AppendQuote(dst, a.Stream)
		dst = append(dst, `,"sequence":`...)
		dst = strconv.AppendUint(dst, a.Sequence, 10)
		dst = append(dst, `,"duplicate":`...)
		dst = strconv.AppendBool(dst, a.Duplicate)
	case "kafka":
		dst = append(dst, `,"topic":`...)
		dst = strconv.AppendQuote(dst, a.Topic)
		dst = append(dst, `,"partition":`...)
		dst = strconv.AppendInt(dst, int64(a.Partition), 10)
		dst = append(dst, `,"offset":`...)
		dst = strconv.AppendInt(dst, a.Offset, 10)
	case "redis-stream":
		dst = append(dst, `,"stream":`...)
		dst = strconv.AppendQuote(dst, a.Stream)
		dst = append(dst, `,"id":`...)
		dst = strconv.AppendQuote(dst, a.EntryID)
	case "redis-channel":
		dst = append(dst, `,"channel":`...)
		dst = strconv.AppendQuote(dst, a.Stream)
		dst = append(dst, `,"receivers":`...)
		dst = strconv.AppendInt(dst, a.Receivers, 10)
	}
	return append(dst, '}')
}

// Errors adapters return (wrapped with detail), which the gateway maps to
// statuses: ErrUnavailable, ErrNotConfirmed and ErrNoResponders to 503, a
// deadline to 504.
var (
	// ErrUnavailable: the broker is not connected.
	ErrUnavailable = errors.New("broker: not connected")
	// ErrNotConfirmed: the broker refused or returned the message
	// (AMQP nack or unroutable, JetStream error, Kafka produce error).
	ErrNotConfirmed = errors.New("broker: message not confirmed")
	// ErrNoResponders: the broker is connected but nothing listens for
	// a request on its subject (NATS "no responders").
	ErrNoResponders = errors.New("broker: no responders for subject")
)
