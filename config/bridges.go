package config

import (
	"reflect"
	"time"
)

// The schema of routes bridged to gRPC methods and to broker publishes,
// and of the brokers they publish to.

// Broker is one message broker that routes publish to, declared once under
// brokers: by name. Exactly one kind is set. A broker whose settings did not
// change keeps its connection across reloads.
type Broker struct {
	// NATS is a NATS server or cluster, with or without JetStream.
	NATS *NATSBroker `yaml:"nats"`
	// AMQP is a RabbitMQ (AMQP 0-9-1) server.
	AMQP *AMQPBroker `yaml:"amqp"`
	// Kafka is a Kafka cluster.
	Kafka *KafkaBroker `yaml:"kafka"`
	// Redis is a Redis server: streams (XADD) or pub/sub channels.
	Redis *RedisBroker `yaml:"redis"`
	// Required makes /readyz answer 503 while the broker is not
	// connected. Default false.
	Required bool `yaml:"required"`
}

// SameConnection reports whether b and o connect the same way: equal but
// for Required.
func (b *Broker) SameConnection(o *Broker) bool {
	if b == nil || o == nil {
		return b == o
	}
	x, y := *b, *o
	x.Required, y.Required = false, false
	return reflect.DeepEqual(&x, &y)
}

// Kind returns the broker's kind: "nats", "amqp", "kafka", "redis", or ""
// when none is set.
func (b *Broker) Kind() string {
	switch {
	case b.NATS != nil:
		return BrokerNATS
	case b.AMQP != nil:
		return BrokerAMQP
	case b.Kafka != nil:
		return BrokerKafka
	case b.Redis != nil:
		return BrokerRedis
	}
	return ""
}

// Broker kinds.
const (
	BrokerNATS  = "nats"
	BrokerAMQP  = "amqp"
	BrokerKafka = "kafka"
	BrokerRedis = "redis"
)

// NATSBroker connects to NATS.
type NATSBroker struct {
	// URL is the server, or several separated by commas, with credentials
	// if any ("nats://user:pass@host:4222"). Default
	// "nats://127.0.0.1:4222".
	URL string `yaml:"url" redact:"url"`
	// JetStream publishes through JetStream and answers after the stream
	// acknowledged the message. false: core NATS, at most once. Default
	// true.
	JetStream *bool `yaml:"jetstream"`
}

// AMQPBroker connects to RabbitMQ.
type AMQPBroker struct {
	// URL is the AMQP URI. Default "amqp://guest:guest@127.0.0.1:5672/".
	URL string `yaml:"url" redact:"url"`
}

// KafkaBroker connects to Kafka.
type KafkaBroker struct {
	// Brokers are the seed brokers, "host:port". Default
	// ["127.0.0.1:9092"].
	Brokers []string `yaml:"brokers" redact:"url"`
	// ClientID names the producer to the cluster. Default "gateway".
	ClientID string `yaml:"client_id"`
}

// RedisBroker connects to Redis for publishes (apart from the top-level
// redis that rate limits and the cache use).
type RedisBroker struct {
	// Address is "host:port". Default "127.0.0.1:6379".
	Address string `yaml:"address"`
	// Username and Password authenticate (ACL or requirepass). Default
	// none.
	Username string `yaml:"username"`
	Password string `yaml:"password" redact:"secret"`
	// DB is the database number. Default 0.
	DB int `yaml:"db" range:"0,100000"`
	// MaxLen trims each stream to about this many entries (XADD MAXLEN
	// ~). Default 0: streams are not trimmed.
	MaxLen int `yaml:"max_len" range:"0,1000000000"`
}

// GRPC bridges a route to a gRPC method: the JSON body, path parameters
// and query build the request message; the answer goes back as JSON.
type GRPC struct {
	// Target is where the method is served: "host:port", several
	// separated by commas (balanced round robin), or a discovered service,
	// "consul://NAME" or "etcd://NAME". Required.
	Target string `yaml:"target" redact:"url"`
	// Method is "package.Service/Method". Required. Client and
	// bidirectional streaming methods are not supported.
	Method string `yaml:"method"`
	// Descriptors is a descriptor set file (protoc --include_imports
	// --descriptor_set_out), relative to the main file's directory, read
	// at each load. Exactly one of Descriptors and Reflection is required.
	Descriptors string `yaml:"descriptors"`
	// Reflection fetches the schema from the server's reflection service
	// when the route is built (at start, and at each reload that changes
	// the route).
	Reflection bool `yaml:"reflection"`
	// AllowUnknownFields accepts JSON fields the request message does not
	// have (ignored). Default false: 400.
	AllowUnknownFields bool `yaml:"allow_unknown_fields"`
	// EmitDefaults writes fields that hold their zero value in the JSON
	// answer. Default false.
	EmitDefaults bool `yaml:"emit_defaults"`
	// UseProtoNames writes the .proto field names (user_id) instead of
	// lowerCamelCase JSON names (userId). Default false.
	UseProtoNames bool `yaml:"use_proto_names"`
	// Metadata lists request headers passed on as gRPC metadata, besides
	// X-Request-Id, traceparent and tracestate, which always are.
	// Default: none.
	Metadata []string `yaml:"metadata"`
	// ResponseMetadata lists response header and trailer metadata keys
	// returned as HTTP headers. Default: none.
	ResponseMetadata []string `yaml:"response_metadata"`
	// Timeout is the call's deadline; past it the client gets 504.
	// Default 30s.
	Timeout time.Duration `yaml:"timeout" range:"1ms,1h"`

	// descriptorSet is the content of Descriptors, read by Load, so that
	// a reload sees a changed file.
	descriptorSet []byte
}

// DescriptorSet returns the content of the Descriptors file as read when
// the configuration loaded; nil with reflection. Read-only.
func (g *GRPC) DescriptorSet() []byte { return g.descriptorSet }

// Publish bridges a route to a broker: the request body is published as
// one message and the client gets 202 once the broker confirmed it.
type Publish struct {
	// Broker names an entry of brokers. Required.
	Broker string `yaml:"broker"`
	// Subject is the NATS subject; with {name} path parameters
	// ("orders.{id}"). Required for NATS.
	Subject string `yaml:"subject"`
	// Exchange is the AMQP exchange. Default "": the default exchange,
	// which routes by queue name.
	Exchange string `yaml:"exchange"`
	// RoutingKey is the AMQP routing key, with {name} path parameters.
	// Required for AMQP.
	RoutingKey string `yaml:"routing_key"`
	// Topic is the Kafka topic, with {name} path parameters. Required for
	// Kafka.
	Topic string `yaml:"topic"`
	// Stream is the Redis stream XADD appends to, with {name} path
	// parameters. One of Stream and Channel is required for Redis.
	Stream string `yaml:"stream"`
	// Channel is the Redis pub/sub channel to PUBLISH to (at most once,
	// payload only), with {name} path parameters.
	Channel string `yaml:"channel"`
	// Key is the message key (Kafka's record key): a template with {name}
	// path parameters, or "header:NAME" for a request header's value.
	// Default "": none.
	Key string `yaml:"key"`
	// Headers lists request headers sent as message headers, besides
	// X-Request-Id and Content-Type, which always are. Default: none.
	Headers []string `yaml:"headers"`
	// IdempotencyHeader is the request header whose value becomes the
	// message id where the broker deduplicates (JetStream Nats-Msg-Id,
	// AMQP message_id, a Kafka record header). Default "Idempotency-Key".
	IdempotencyHeader string `yaml:"idempotency_header"`
	// Mode is "confirm" (default: answer 202 after the broker confirmed)
	// or "fire_and_forget" (answer 202 at once; the message may be lost).
	Mode string `yaml:"mode"`
	// Reply makes a NATS route a request: the reply's payload is the
	// answer's body. Only with NATS. Default false.
	Reply bool `yaml:"reply"`
	// MaxPayload is the largest body published; larger ones get 413.
	// Default 1MiB.
	MaxPayload ByteSize `yaml:"max_payload" range:"1B,64MiB"`
	// Timeout bounds the wait for the broker's confirmation; past it the
	// client gets 504. Default 5s.
	Timeout time.Duration `yaml:"timeout" range:"1ms,1h"`
}

// Publish modes.
const (
	ModeConfirm       = "confirm"
	ModeFireAndForget = "fire_and_forget"
)

// Destination returns the route's subject, routing key, topic, stream or
// channel: whichever its broker kind uses.
func (p *Publish) Destination() string {
	for _, d := range [...]string{p.Subject, p.RoutingKey, p.Topic, p.Stream, p.Channel} {
		if d != "" {
			return d
		}
	}
	return ""
}

const (
	defaultNATSURL        = "nats://127.0.0.1:4222"
	defaultAMQPURL        = "amqp://guest:guest@127.0.0.1:5672/"
	defaultKafkaBroker    = "127.0.0.1:9092"
	defaultKafkaClientID  = "gateway"
	defaultIdempotencyKey = "Idempotency-Key"
	defaultMaxPayload     = 1 << 20
	defaultPublishTimeout = 5 * time.Second
	grpcDiscoveryConsul   = "consul://"
	grpcDiscoveryEtcd     = "etcd://"
)

func brokerDefaults(b *Broker) {
	switch {
	case b.NATS != nil:
		zeroDefault(&b.NATS.URL, defaultNATSURL)
		if b.NATS.JetStream == nil {
			on := true
			b.NATS.JetStream = &on
		}
	case b.AMQP != nil:
		zeroDefault(&b.AMQP.URL, defaultAMQPURL)
	case b.Kafka != nil:
		if len(b.Kafka.Brokers) == 0 {
			b.Kafka.Brokers = []string{defaultKafkaBroker}
		}
		zeroDefault(&b.Kafka.ClientID, defaultKafkaClientID)
	case b.Redis != nil:
		zeroDefault(&b.Redis.Address, defaultRedisAddress)
	}
}

func grpcDefaults(g *GRPC) {
	zeroDefault(&g.Timeout, defaultTimeout)
}

func publishDefaults(p *Publish) {
	zeroDefault(&p.IdempotencyHeader, defaultIdempotencyKey)
	zeroDefault(&p.Mode, ModeConfirm)
	zeroDefault(&p.MaxPayload, defaultMaxPayload)
	zeroDefault(&p.Timeout, defaultPublishTimeout)
}
