// Package nats publishes a route's messages to NATS, as a broker.Publisher
// and a broker.Requester, over one connection per Publisher.
//
// # Delivery guarantee
//
// With Settings.JetStream, Publish returns nil only after the JetStream
// stream that captures the subject has stored the message and answered
// with its PubAck (stream name and sequence, in the Ack), so a nil error
// means the message is in the stream, as durable as the stream's storage
// and replicas make it. A publish whose answer was lost (timeout,
// connection lost) may still have been stored: publishing it again with
// the same Message.ID (sent as Nats-Msg-Id) stores it at most once within
// the stream's duplicate window (2 minutes unless the stream says
// otherwise), and the Ack then says Duplicate. This is exactly-once
// storage for clients that retry with the same ID, at-least-once for
// those without an ID. Without JetStream, Publish is core NATS and at
// most once: nil means the server received the message (a PING/PONG round
// trip after it, in order), not that any subscriber got it; nobody
// listening, a slow consumer, or a permission the server refuses drops it
// without an error here.
//
// # Connection
//
// New connects at once, but a server that is down does not stop it: the
// Publisher keeps retrying in the background (forever unless
// MaxReconnects says otherwise), waiting ReconnectWait after each round
// over the servers, doubled each round up to MaxReconnectWait, plus up to
// a fifth more of jitter. Meanwhile, and during any later outage, Up is
// false and Publish and Request fail at once with an error wrapping
// broker.ErrUnavailable. Nothing is kept to be sent later, so a publish
// refused while disconnected is never delivered afterwards.
// Once a server answers again, publishes succeed with the same Publisher.
//
// # Errors
//
// Errors wrap broker.ErrUnavailable when there is no connection,
// broker.ErrNoResponders for a Request to a subject nothing subscribes
// to (the server says so at once), broker.ErrNotConfirmed when the
// server refused the message (no stream captures the subject, a JetStream
// error such as a full stream, a payload over the server's limit), and
// the context's error when the answer did not come before ctx ended (with
// broker.ErrUnavailable too when the connection was lost meanwhile). A
// subject that no stream captures is known after the client's two
// retries, 250ms apart (against a stream leader changing meanwhile).
// Publish and Request return no later than ctx's deadline; a ctx without
// one is bounded by Settings.Timeout.
//
// # Headers
//
// Message.ID goes as the Nats-Msg-Id header, Message.ContentType as
// Content-Type, and each of Message.Headers as a NATS header of the same
// name (repeated names keep all values, in order), except names beginning
// with "Nats-" (any case): those steer JetStream (expected sequences,
// rollups, the message id) and are dropped.
//
// A Publisher is safe for concurrent use; its goroutines are the NATS
// client's, and Close stops them.
package nats
