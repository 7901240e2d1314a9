// Package broker is the root of the broker family: the Publisher interface
// each adapter (bridge/broker/nats, amqp, kafka, redis) implements, the
// message a route publishes, and what the broker acknowledged.
//
// The gateway answers a publish with a 2xx only after Publish returned a
// nil error, so an adapter returns nil only once its broker confirmed the
// message (or, for brokers that cannot confirm, once the message left for
// the broker, as docs/publish.md states).
package broker
