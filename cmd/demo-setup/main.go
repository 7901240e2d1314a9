// Command demo-setup creates on local brokers what the routes of
// configs/publish.yaml publish to, so that they answer 202 instead of
// "broker did not confirm the message":
//
//   - NATS JetStream: the stream EVENTS, capturing events.> (route events);
//   - RabbitMQ: the topic exchange shop and the queue orders bound to it
//     with orders.# (route orders: a message no queue takes is refused);
//   - Kafka: the topic clicks (route clicks), when a Kafka broker answers;
//     none runs here by default, so it is skipped otherwise;
//   - Redis: nothing (XADD creates the stream audit); it is only checked.
//
// Everything is declared idempotently: running it again changes nothing,
// and what exists already is left as it is. `make demo-brokers` runs it.
//
//	go run ./cmd/demo-setup [-nats URL] [-amqp URL] [-redis ADDR] [-kafka ADDRS]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp091 "github.com/rabbitmq/amqp091-go"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// What configs/publish.yaml publishes to.
const (
	eventsStream  = "EVENTS"
	eventsSubject = "events.>"
	shopExchange  = "shop"
	ordersQueue   = "orders"
	ordersBinding = "orders.#"
	clicksTopic   = "clicks"
	auditStream   = "audit"
)

// timeout bounds the work done on each broker.
const timeout = 10 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run sets up every broker and returns the exit code: 1 when NATS,
// RabbitMQ or Redis could not be set up. Kafka is optional.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo-setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	natsURL := fs.String("nats", envOr("NATS_URL", "nats://127.0.0.1:4222"), "NATS server URL (JetStream enabled)")
	amqpURL := fs.String("amqp", envOr("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"), "RabbitMQ URL")
	redisAddr := fs.String("redis", envOr("REDIS_ADDR", "127.0.0.1:6379"), "Redis address")
	kafkaAddrs := fs.String("kafka", envOr("KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka seed brokers, comma-separated; skipped when none answers")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	code := 0
	report := func(broker, done string, err error) {
		if err != nil {
			fmt.Fprintf(stderr, "demo-setup: %s: %v\n", broker, err)
			code = 1
			return
		}
		fmt.Fprintf(stdout, "demo-setup: %s: %s\n", broker, done)
	}
	done, err := setupNATS(*natsURL)
	report("nats", done, err)
	done, err = setupAMQP(*amqpURL)
	report("rabbitmq", done, err)
	done, err = checkRedis(*redisAddr)
	report("redis", done, err)
	done, err = setupKafka(strings.Split(*kafkaAddrs, ","))
	if errors.Is(err, errUnreachable) {
		fmt.Fprintf(stdout, "demo-setup: kafka: no broker answers at %s: skipped (the clicks route cannot publish)\n", *kafkaAddrs)
	} else {
		report("kafka", done, err)
	}
	return code
}

// setupNATS creates the JetStream stream the events route stores into.
func setupNATS(url string) (string, error) {
	nc, err := natsgo.Connect(url, natsgo.Timeout(2*time.Second), natsgo.NoReconnect())
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if st, err := js.Stream(ctx, eventsStream); err == nil {
		return fmt.Sprintf("stream %s exists (subjects %s): left as it is", eventsStream,
			strings.Join(st.CachedInfo().Config.Subjects, ",")), nil
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return "", fmt.Errorf("stream %s: %w (is JetStream enabled? nats-server -js)", eventsStream, err)
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     eventsStream,
		Subjects: []string{eventsSubject},
		// A demo stream stays small: a day of messages at most.
		MaxAge: 24 * time.Hour,
	})
	if err != nil {
		return "", fmt.Errorf("create stream %s: %w", eventsStream, err)
	}
	return fmt.Sprintf("stream %s (subjects %s) created", eventsStream, eventsSubject), nil
}

// setupAMQP declares the exchange and the queue the orders route needs:
// with publisher confirms and mandatory publishing, a message no queue
// takes is refused.
func setupAMQP(url string) (string, error) {
	conn, err := amqp091.DialConfig(url, amqp091.Config{Dial: amqp091.DefaultDial(2 * time.Second)})
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", redactURL(url), err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return "", err
	}
	defer ch.Close()
	if err := ch.ExchangeDeclare(shopExchange, amqp091.ExchangeTopic, true, false, false, false, nil); err != nil {
		return "", fmt.Errorf("declare exchange %s: %w", shopExchange, err)
	}
	if _, err := ch.QueueDeclare(ordersQueue, true, false, false, false, nil); err != nil {
		return "", fmt.Errorf("declare queue %s: %w", ordersQueue, err)
	}
	if err := ch.QueueBind(ordersQueue, ordersBinding, shopExchange, false, nil); err != nil {
		return "", fmt.Errorf("bind queue %s: %w", ordersQueue, err)
	}
	return fmt.Sprintf("exchange %s (topic) and queue %s bound with %s declared", shopExchange, ordersQueue, ordersBinding), nil
}

// checkRedis only checks that Redis answers: XADD creates the stream.
func checkRedis(addr string) (string, error) {
	c := goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: 2 * time.Second, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		return "", fmt.Errorf("%s: %w", addr, err)
	}
	return fmt.Sprintf("answers; stream %s needs nothing (the first XADD creates it)", auditStream), nil
}

// errUnreachable says no Kafka seed broker accepted a connection.
var errUnreachable = errors.New("demo-setup: unreachable")

// setupKafka creates the topic of the clicks route when a seed broker
// answers, with the broker's default partitions and replication.
func setupKafka(seeds []string) (string, error) {
	reachable := false
	for _, s := range seeds {
		if c, err := net.DialTimeout("tcp", strings.TrimSpace(s), time.Second); err == nil {
			c.Close()
			reachable = true
			break
		}
	}
	if !reachable {
		return "", errUnreachable
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = int32(timeout / time.Millisecond)
	topic := kmsg.NewCreateTopicsRequestTopic()
	topic.Topic = clicksTopic
	topic.NumPartitions = -1 // the broker's defaults
	topic.ReplicationFactor = -1
	req.Topics = append(req.Topics, topic)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return "", fmt.Errorf("create topic %s: %w", clicksTopic, err)
	}
	if len(resp.Topics) != 1 {
		return "", fmt.Errorf("create topic %s: %d topics in the answer", clicksTopic, len(resp.Topics))
	}
	switch err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); {
	case err == nil:
		return fmt.Sprintf("topic %s created", clicksTopic), nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return fmt.Sprintf("topic %s exists: left as it is", clicksTopic), nil
	default:
		return "", fmt.Errorf("create topic %s: %w", clicksTopic, err)
	}
}

// envOr returns the environment variable name, or def when it is unset.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// redactURL hides the password of a URL in messages.
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return s
	}
	user, _, _ := strings.Cut(userinfo, ":")
	return scheme + "://" + user + ":xxxxx@" + host
}
