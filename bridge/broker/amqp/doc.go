// Package amqp publishes messages to RabbitMQ (AMQP 0-9-1) for routes with
// a `publish` step on an amqp broker. Its [Publisher] implements
// broker.Publisher with github.com/rabbitmq/amqp091-go.
//
// # Delivery guarantee
//
// At least once, from the moment Publish returns nil: it does so only
// after RabbitMQ confirmed the message (publisher confirms), that is
// after the message, published as mandatory and persistent, was routed
// to at least one queue and taken over by every queue it was routed to
// (written to disk by durable queues, accepted by a majority of replicas
// for quorum queues). An error means the gateway cannot vouch for the
// message: RabbitMQ refused it (broker.ErrNotConfirmed: returned as
// unroutable, nacked, or the channel closed over it, for example a
// missing exchange), or its fate is unknown (broker.ErrUnavailable when
// the connection was lost before the confirmation, or the caller's
// deadline) and it may still be delivered, so a client that retries can
// cause a duplicate; Message.ID is sent as the AMQP message_id for
// consumers to deduplicate. The publisher never buffers or retries a
// message on its own.
//
// # Messages
//
// A broker.Message becomes one basic.publish: Exchange is the exchange
// ("" is the default exchange), Destination the routing key, Payload the
// body, ID the message_id property, ContentType the content_type
// property, Headers the headers table (string values; of two headers with
// the same name the last wins), except CC and BCC (any case), which
// RabbitMQ would take as extra routing keys: they are dropped, so a
// client cannot reach queues its route does not name. Every message is persistent (delivery
// mode 2) and mandatory. broker.Ack{Kind: "amqp"} is the answer;
// RabbitMQ's confirmation carries nothing more.
//
// # Connection and channels
//
// The Publisher owns one connection and a goroutine that dials it, and
// dials it again with a jittered, exponential backoff (Settings.MinBackoff
// to MaxBackoff) whenever it is lost: the library does not reconnect by
// itself. New does not wait for the broker, so the gateway starts while
// RabbitMQ is down; meanwhile Publish fails at once with
// broker.ErrUnavailable, and succeeds again, with the same Publisher, once
// a new connection is up. While RabbitMQ blocks the connection (a memory
// or disk alarm), Publish fails at once the same way and Up reports false.
//
// On the connection the Publisher keeps Settings.Channels channels in
// confirm mode, each with a worker goroutine that carries one publish at
// a time. A basic.return does not say which publish it returns; with one
// publish in flight per channel, a return on a channel belongs to that
// publish without doubt, whatever the other publishes carry, and RabbitMQ
// sends it before the message's basic.ack. Publish copies the message
// into the channel's buffers before handing it over, so it can return at
// its context's deadline while the worker waits for the broker's answer:
// the channel is only reused after that answer (or the connection's end).
// A channel the broker closed after an error is reopened by its worker.
package amqp
