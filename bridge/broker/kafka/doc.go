// Package kafka publishes messages to Kafka for routes with a `publish`
// step on a kafka broker. Its [Publisher] implements broker.Publisher
// with franz-go's kgo client.
//
// # Delivery guarantee
//
// At least once, from the moment Publish returns nil: it does so only
// after the partition leader answered that every in-sync replica has the
// record (acks=all), and the Ack carries the partition and offset it was
// written at. The producer is idempotent, so the client's own retries
// after a lost answer do not write the record twice. An error means the
// gateway cannot vouch for the record: Kafka refused it
// (broker.ErrNotConfirmed), or it was not written in time
// (broker.ErrUnavailable, or the caller's deadline) and may still be
// written later, up to Settings.DeliveryTimeout after it was produced, so
// a client that retries can cause a duplicate; Message.ID is sent as the
// Idempotency-Key header for consumers to deduplicate. How many replicas
// "in-sync" must be is the topic's min.insync.replicas.
//
// # Records
//
// A broker.Message becomes one record: Destination is the topic, Key the
// key (when Key is empty and ID is set, ID is the key, so the messages of
// one idempotency key keep to one partition; with neither, the record has
// no key and franz-go spreads such records over the partitions), Payload
// the value (empty, never null, for an empty payload), and the headers
// are Headers followed by Idempotency-Key (ID) and Content-Type
// (ContentType) when those are set. Exchange and Channel are ignored.
//
// # Deadlines and outages
//
// franz-go's ProduceSync can block far past its context while no broker
// answers. Publish instead produces with a promise and returns when
// Kafka answered or when its context ends, whichever comes first. The
// record is a copy of the message, so the caller may reuse it at once;
// its context is the publisher's, so one caller giving up does not fail
// the records of others. The client keeps an abandoned record until
// Kafka answers or DeliveryTimeout passes (a record already sent waits
// for its answer, as the idempotent producer requires), at most
// MaxBufferedRecords of them: beyond that Publish fails at once with
// broker.ErrUnavailable. The client reconnects by itself: once a broker
// answers again, the same Publisher writes again. Up reports what the
// last metadata request to the cluster (every PingInterval, and soon
// after a connection to a broker closed or a publish went unanswered) or
// the last written record said. While that request found no broker
// reachable, Publish fails at once with broker.ErrUnavailable instead of
// holding its caller until the deadline, and asks for another request
// (at most one per 250ms), so a cluster that is back is written to again
// within about that.
package kafka
