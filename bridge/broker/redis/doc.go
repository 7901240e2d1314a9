// Package redis publishes a route's messages to Redis, as a
// broker.Publisher: appended to a stream (XADD) by default, or sent to a
// Pub/Sub channel (PUBLISH) when Message.Channel is set.
//
// # Delivery guarantee
//
// To a stream, Publish returns nil only after Redis appended the entry
// and answered with its ID (in the Ack), so a nil error means the entry
// is in the stream in the memory of the Redis server that answered; it
// outlives a restart or a failover only as far as that server's
// persistence (appendonly, appendfsync) and replication make it, and
// MaxLen trimming may later remove it. A publish whose answer was lost
// (timeout, connection lost) may still have been appended, and Redis 7
// streams do not deduplicate: a retry can store the message twice, so
// delivery is at least once, and consumers that need exactly once drop
// entries whose id field they have already seen. To a channel, delivery
// is at most once: nil means Redis handed the payload to the subscribers
// connected at that moment (Ack.Receivers of them, possibly none) and
// keeps nothing, and only the payload travels (no id, content type or
// headers).
//
// # Stream entries
//
// Each entry holds these fields, in this order:
//
//	payload       Message.Payload, byte for byte
//	content-type  Message.ContentType, when set
//	id            Message.ID, when set
//	h:<name>      one per Message.Headers element, its name as given
//	              after "h:" (a repeated header gives repeated fields)
//
// # Connection and errors
//
// New builds its own client (NewWithClient borrows one, such as the
// client the rate limiter uses, and never closes it) and checks Redis
// with a PING, which may fail: a Redis that is down does not stop the
// gateway. Each publish dials when no pooled connection is left, so once
// Redis answers again publishes succeed with the same Publisher. Errors
// wrap broker.ErrUnavailable when Redis could not be reached or cannot
// take writes now (loading its data, a read-only replica, no
// authentication), broker.ErrNotConfirmed when Redis refused the command
// (the key holds another type, out of memory, a stream that must exist
// does not), and the context's error when ctx ended first. Up reflects
// the last command to Redis: each publish's outcome, and a PING the
// Publisher sends every PingInterval.
//
// A Publisher is safe for concurrent use; its one goroutine, the PING,
// stops with Close.
package redis
