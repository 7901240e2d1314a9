package config

import (
	"strings"
	"time"
)

// Routes that publish the request body to a broker: a route's publish.

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
	defaultIdempotencyKey = "Idempotency-Key"
	defaultMaxPayload     = 1 << 20
	defaultPublishTimeout = 5 * time.Second
)

func publishDefaults(p *Publish) {
	zeroDefault(&p.IdempotencyHeader, defaultIdempotencyKey)
	zeroDefault(&p.Mode, ModeConfirm)
	zeroDefault(&p.MaxPayload, defaultMaxPayload)
	zeroDefault(&p.Timeout, defaultPublishTimeout)
}

func (v *validator) publish(r *Route, brokers map[string]*Broker, p string) {
	pub := r.Publish
	b := brokers[pub.Broker]
	switch {
	case pub.Broker == "":
		v.errorf(p+".broker", "is required (a name under brokers)")
	case b == nil:
		v.invalid(p+".broker", pub.Broker, "no such broker under brokers")
	}
	dests := map[string]string{"subject": pub.Subject, "routing_key": pub.RoutingKey, "topic": pub.Topic, "stream": pub.Stream, "channel": pub.Channel}
	var want []string // the destination keys the broker's kind takes
	kind := ""
	if b != nil {
		kind = b.Kind()
	}
	switch kind {
	case BrokerNATS:
		want = []string{"subject"}
	case BrokerAMQP:
		want = []string{"routing_key"}
	case BrokerKafka:
		want = []string{"topic"}
	case BrokerRedis:
		want = []string{"stream", "channel"}
	}
	if kind != "" {
		given := 0
		for _, key := range []string{"subject", "routing_key", "topic", "stream", "channel"} {
			if dests[key] == "" {
				continue
			}
			ok := false
			for _, w := range want {
				ok = ok || key == w
			}
			if !ok {
				v.errorf(p+"."+key, "is not used by a %s broker (it takes %s)", kind, strings.Join(want, " or "))
				continue
			}
			given++
			v.template(r, p+"."+key, dests[key])
		}
		switch {
		case given == 0:
			v.errorf(p, "needs %s for a %s broker", strings.Join(want, " or "), kind)
		case given > 1:
			v.errorf(p, "has both stream and channel; keep one")
		}
		if pub.Exchange != "" && kind != BrokerAMQP {
			v.errorf(p+".exchange", "is only for an amqp broker")
		}
		if pub.Reply && kind != BrokerNATS {
			v.errorf(p+".reply", "is only for a nats broker")
		}
	}
	if name, ok := strings.CutPrefix(pub.Key, PerHeader); ok {
		if !isToken(name) {
			v.invalid(p+".key", pub.Key, "wants a header name after header:")
		}
	} else if pub.Key != "" {
		v.template(r, p+".key", pub.Key)
	}
	v.headerNames(pub.Headers, p+".headers")
	if !isToken(pub.IdempotencyHeader) {
		v.errorf(p+".idempotency_header", "%q: not a valid header name", pub.IdempotencyHeader)
	}
	switch pub.Mode {
	case ModeConfirm:
	case ModeFireAndForget:
		if pub.Reply {
			v.errorf(p+".mode", "fire_and_forget cannot wait for a reply")
		}
	default:
		v.invalid(p+".mode", pub.Mode, "must be confirm or fire_and_forget")
	}
}

// template checks that the {name} parameters of s are parameters of the
// route's path.
func (v *validator) template(r *Route, p, s string) {
	for rest := s; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				v.invalid(p, s, "unbalanced braces")
			}
			return
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			v.invalid(p, s, "unbalanced braces")
			return
		}
		name := rest[i+1 : i+j]
		if !strings.Contains(r.Match.Path, "{"+name+"}") {
			v.invalid(p, s, "{"+name+"} is not a parameter of match.path")
			return
		}
		rest = rest[i+j+1:]
	}
}
