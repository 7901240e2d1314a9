package amqp

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sharedURL is the URL of the test RabbitMQ (RABBITMQ_URL, default
// amqp://guest:guest@127.0.0.1:5672/, as scripts/services.sh starts it).
// Without it the test fails when REQUIRE_SERVICES is set and is skipped
// otherwise.
func sharedURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("RABBITMQ_URL")
	if url == "" {
		url = "amqp://guest:guest@127.0.0.1:5672/"
	}
	c, err := amqp091.DialConfig(url, amqp091.Config{Dial: amqp091.DefaultDial(2 * time.Second)})
	if err != nil {
		if os.Getenv("REQUIRE_SERVICES") != "" {
			t.Fatalf("rabbitmq at %s: %v (REQUIRE_SERVICES is set)", url, err)
		}
		t.Skipf("rabbitmq at %s: %v", url, err)
	}
	_ = c.Close()
	return url
}

// unique returns a name of its own for the test's exchanges and queues
// in a broker shared with other runs.
func unique(t testing.TB, what string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	return "gwtest." + name + "." + what + "." + hex.EncodeToString(b)
}

// newPublisher starts a Publisher for s, closed at cleanup.
func newPublisher(t testing.TB, s Settings) *Publisher {
	t.Helper()
	p, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// waitUp waits (bounded) until p is connected.
func waitUp(t testing.TB, p *Publisher, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !p.Up() {
		if time.Now().After(deadline) {
			t.Fatalf("publisher not up after %v: %v", within, p.lastErr.Load().err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// admin is the test's own connection, to declare and consume.
type admin struct {
	t    testing.TB
	conn *amqp091.Connection
	ch   *amqp091.Channel
}

func newAdmin(t testing.TB, url string) *admin {
	t.Helper()
	conn, err := amqp091.DialConfig(url, amqp091.Config{Dial: amqp091.DefaultDial(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return &admin{t: t, conn: conn, ch: ch}
}

// exchange declares an auto-delete direct exchange.
func (a *admin) exchange(name string) {
	a.t.Helper()
	if err := a.ch.ExchangeDeclare(name, "direct", false, true, false, false, nil); err != nil {
		a.t.Fatal(err)
	}
	a.t.Cleanup(func() { _ = a.ch.ExchangeDelete(name, false, false) })
}

// queue declares an exclusive, auto-delete queue, bound to exchange
// with key unless exchange is "", and starts consuming it.
func (a *admin) queue(name, exchange, key string, args amqp091.Table) <-chan amqp091.Delivery {
	a.t.Helper()
	if _, err := a.ch.QueueDeclare(name, false, true, true, false, args); err != nil {
		a.t.Fatal(err)
	}
	if exchange != "" {
		if err := a.ch.QueueBind(name, key, exchange, false, nil); err != nil {
			a.t.Fatal(err)
		}
	}
	d, err := a.ch.Consume(name, "", true, true, false, false, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	return d
}

// receive returns the next delivery, failing after within.
func receive(t testing.TB, d <-chan amqp091.Delivery, within time.Duration) amqp091.Delivery {
	t.Helper()
	select {
	case m, ok := <-d:
		if !ok {
			t.Fatal("consumer closed")
		}
		return m
	case <-time.After(within):
		t.Fatalf("no delivery within %v", within)
	}
	return amqp091.Delivery{}
}

// nothingMore fails if d delivers within wait.
func nothingMore(t testing.TB, d <-chan amqp091.Delivery, wait time.Duration) {
	t.Helper()
	select {
	case m := <-d:
		t.Fatalf("unexpected delivery %q (id %q, key %q)", m.Body, m.MessageId, m.RoutingKey)
	case <-time.After(wait):
	}
}
