package config

import (
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/fastgate/gateway/config/yamlcodec"
)

// Message brokers: the top-level brokers section that publish routes
// send to.

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

const (
	defaultNATSURL       = "nats://127.0.0.1:4222"
	defaultAMQPURL       = "amqp://guest:guest@127.0.0.1:5672/"
	defaultKafkaBroker   = "127.0.0.1:9092"
	defaultKafkaClientID = "gateway"
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

func (v *validator) brokers(bs map[string]*Broker) {
	names := make([]string, 0, len(bs))
	for name := range bs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := yamlcodec.KeyPath("brokers", name)
		if !validName(name) {
			v.errorf(p, "%q: a broker name may hold only letters, digits, '_', '.' and '-'", name)
		}
		b := bs[name]
		if b == nil {
			v.errorf(p, "needs one of nats, amqp, kafka or redis")
			continue
		}
		var kinds []string
		for kind, set := range map[string]bool{
			BrokerNATS: b.NATS != nil, BrokerAMQP: b.AMQP != nil, BrokerKafka: b.Kafka != nil, BrokerRedis: b.Redis != nil,
		} {
			if set {
				kinds = append(kinds, kind)
			}
		}
		sort.Strings(kinds)
		switch len(kinds) {
		case 0:
			v.errorf(p, "needs one of nats, amqp, kafka or redis")
			continue
		case 1:
		default:
			v.errorf(p, "has %s; keep one", strings.Join(kinds, " and "))
			continue
		}
		switch {
		case b.NATS != nil:
			v.brokerURLs(p+".nats.url", b.NATS.URL, "nats", "tls", "ws", "wss")
		case b.AMQP != nil:
			v.brokerURLs(p+".amqp.url", b.AMQP.URL, "amqp", "amqps")
		case b.Kafka != nil:
			for i, addr := range b.Kafka.Brokers {
				if msg := checkDialAddr(addr); msg != "" {
					v.invalid(p+".kafka.brokers["+strconv.Itoa(i)+"]", addr, msg)
				}
			}
		case b.Redis != nil:
			if msg := checkDialAddr(b.Redis.Address); msg != "" {
				v.invalid(p+".redis.address", b.Redis.Address, msg)
			}
		}
	}
}

// brokerURLs checks a comma-separated list of URLs with one of schemes.
func (v *validator) brokerURLs(p, list string, schemes ...string) {
	for _, u := range strings.Split(list, ",") {
		scheme, rest, ok := strings.Cut(strings.TrimSpace(u), "://")
		host := rest
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			host = rest[at+1:]
		}
		host, _, _ = strings.Cut(host, "/")
		known := false
		for _, s := range schemes {
			known = known || scheme == s
		}
		switch {
		case !ok || !known:
			// The URL may hold a password: name the scheme, not the value.
			v.errorf(p, "want a %s:// URL", strings.Join(schemes, "://, "))
			return
		case host == "":
			v.errorf(p, "a URL has no host")
			return
		}
	}
}
