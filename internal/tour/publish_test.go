package tour

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp091 "github.com/rabbitmq/amqp091-go"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
)

// What configs/publish.yaml publishes to and demo-setup creates.
const (
	eventsStream = "EVENTS"
	shopExchange = "shop"
	ordersQueue  = "orders"
	auditStream  = "audit"
)

// service returns the address of a local service from the environment
// variable name, or def. When nothing answers there the test fails under
// make test (REQUIRE_SERVICES) and is skipped when run by hand.
func service(t *testing.T, name, def string) string {
	t.Helper()
	addr := os.Getenv(name)
	if addr == "" {
		addr = def
	}
	hostport := addr
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		hostport = u.Host
	}
	c, err := net.DialTimeout("tcp", hostport, 2*time.Second)
	if err != nil {
		if os.Getenv("REQUIRE_SERVICES") != "" {
			t.Fatalf("%s %s: %v (REQUIRE_SERVICES is set)", name, addr, err)
		}
		t.Skipf("%s %s: %v", name, addr, err)
	}
	c.Close()
	return addr
}

// publishTour points configs/publish.yaml and demo-setup at the local
// NATS, RabbitMQ and Redis and at an in-process Kafka (kfake), and
// removes afterwards what the tour created there: the stream, exchange
// and queue if they did not exist before, else the messages it stored
// where that can be done by id.
func publishTour(t *testing.T, r *run) {
	const (
		defNATS  = "nats://127.0.0.1:4222"
		defAMQP  = "amqp://guest:guest@127.0.0.1:5672/"
		defRedis = "127.0.0.1:6379"
	)
	natsURL := service(t, "NATS_URL", defNATS)
	amqpURL := service(t, "RABBITMQ_URL", defAMQP)
	redisAddr := service(t, "REDIS_ADDR", defRedis)
	r.replace = []string{defNATS, natsURL, defAMQP, amqpURL, `"` + defRedis + `"`, `"` + redisAddr + `"`}

	kafka, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kafka.Close)
	_, kport, _ := net.SplitHostPort(kafka.ListenAddrs()[0])
	r.ports["9092"] = kport
	r.env = []string{"NATS_URL=" + natsURL, "RABBITMQ_URL=" + amqpURL, "REDIS_ADDR=" + redisAddr,
		"KAFKA_BROKERS=" + kafka.ListenAddrs()[0]}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	nc, err := natsgo.Connect(natsURL, natsgo.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = js.Stream(ctx, eventsStream)
	hadStream := err == nil
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("stream %s: %v", eventsStream, err)
	}

	rdb := goredis.NewClient(&goredis.Options{Addr: redisAddr})
	n, err := rdb.Exists(ctx, auditStream).Result()
	if err != nil {
		t.Fatal(err)
	}
	hadAudit := n == 1

	hadExchange, hadQueue := amqpExists(t, amqpURL)

	t.Cleanup(func() {
		defer nc.Close()
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var seqs []uint64
		var ids []string
		r.mu.Lock()
		for _, a := range r.answers {
			switch a["broker"] {
			case "jetstream":
				if s, ok := a["sequence"].(float64); ok && a["duplicate"] == false {
					seqs = append(seqs, uint64(s))
				}
			case "redis-stream":
				if id, ok := a["id"].(string); ok {
					ids = append(ids, id)
				}
			}
		}
		r.mu.Unlock()
		if hadStream {
			if st, err := js.Stream(ctx, eventsStream); err == nil {
				for _, s := range seqs {
					_ = st.DeleteMsg(ctx, s)
				}
			}
		} else if err := js.DeleteStream(ctx, eventsStream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("removing stream %s: %v", eventsStream, err)
		}
		if !hadAudit {
			rdb.Del(ctx, auditStream)
		} else if len(ids) > 0 {
			rdb.XDel(ctx, auditStream, ids...)
		}
		amqpRemove(t, amqpURL, !hadExchange, !hadQueue)
	})
}

// amqpExists reports whether the exchange and the queue of the orders
// route exist (a passive declare fails and closes its channel otherwise).
func amqpExists(t *testing.T, url string) (exchange, queue bool) {
	t.Helper()
	conn, err := amqp091.DialConfig(url, amqp091.Config{Dial: amqp091.DefaultDial(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	check := func(declare func(*amqp091.Channel) error) bool {
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		err = declare(ch)
		_ = ch.Close()
		var aerr *amqp091.Error
		if errors.As(err, &aerr) && aerr.Code == amqp091.NotFound {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		return true
	}
	exchange = check(func(ch *amqp091.Channel) error {
		return ch.ExchangeDeclarePassive(shopExchange, amqp091.ExchangeTopic, true, false, false, false, nil)
	})
	queue = check(func(ch *amqp091.Channel) error {
		_, err := ch.QueueDeclarePassive(ordersQueue, true, false, false, false, nil)
		return err
	})
	return exchange, queue
}

// amqpRemove deletes the exchange and the queue the tour created.
func amqpRemove(t *testing.T, url string, exchange, queue bool) {
	if !exchange && !queue {
		return
	}
	conn, err := amqp091.DialConfig(url, amqp091.Config{Dial: amqp091.DefaultDial(2 * time.Second)})
	if err != nil {
		t.Errorf("removing %s/%s: %v", shopExchange, ordersQueue, err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Errorf("removing %s/%s: %v", shopExchange, ordersQueue, err)
		return
	}
	defer ch.Close()
	if queue {
		if _, err := ch.QueueDelete(ordersQueue, false, false, false); err != nil {
			t.Errorf("removing queue %s: %v", ordersQueue, err)
		}
	}
	if exchange {
		if err := ch.ExchangeDelete(shopExchange, false, false); err != nil {
			t.Errorf("removing exchange %s: %v", shopExchange, err)
		}
	}
}
