package amqp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/bridge/broker/brokertest"
)

func TestPublishRoundTrip(t *testing.T) {
	url := sharedURL(t)
	a := newAdmin(t, url)
	ex := unique(t, "ex")
	a.exchange(ex)
	viaExchange := a.queue(unique(t, "q1"), ex, "orders.created", nil)
	direct := unique(t, "q2")
	viaDefault := a.queue(direct, "", "", nil)
	p := newPublisher(t, Settings{URL: url, Channels: 2})
	waitUp(t, p, 10*time.Second)

	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	tests := []struct {
		desc        string
		give        broker.Message
		wantHeaders []broker.Header // nil: give.Headers
		from        <-chan amqp091.Delivery
	}{
		{
			desc: "exchange and routing key, every field",
			give: broker.Message{
				Exchange: ex, Destination: "orders.created", ID: "id-1",
				ContentType: "application/json",
				Headers:     []broker.Header{{Name: "X-Trace", Value: "abc"}, {Name: "X-Empty", Value: ""}},
				Payload:     []byte(`{"order":1}`),
			},
			from: viaExchange,
		},
		{
			desc: "CC and BCC dropped",
			give: broker.Message{
				Exchange: ex, Destination: "orders.created", ID: "id-cc",
				Headers: []broker.Header{{Name: "cc", Value: direct}, {Name: "BCC", Value: direct}},
				Payload: []byte("cc"),
			},
			wantHeaders: []broker.Header{},
			from:        viaExchange,
		},
		{
			desc: "default exchange, binary payload, no id",
			give: broker.Message{Destination: direct, Payload: binary},
			from: viaDefault,
		},
		{
			desc: "empty payload",
			give: broker.Message{Destination: direct, ID: "empty", Payload: nil},
			from: viaDefault,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// The caller's buffer changes right after Publish: the
			// message sent is what Publish was given.
			m := tt.give
			m.Payload = bytes.Clone(tt.give.Payload)
			ack, err := p.Publish(ctx, &m)
			if err != nil {
				t.Fatal(err)
			}
			for i := range m.Payload {
				m.Payload[i] = 'X'
			}
			if ack != (broker.Ack{Kind: "amqp"}) {
				t.Errorf("ack = %+v", ack)
			}
			d := receive(t, tt.from, 5*time.Second)
			if !bytes.Equal(d.Body, tt.give.Payload) {
				t.Errorf("body = %q, want %q", d.Body, tt.give.Payload)
			}
			if d.Exchange != tt.give.Exchange || d.RoutingKey != tt.give.Destination {
				t.Errorf("exchange, key = %q, %q; want %q, %q", d.Exchange, d.RoutingKey, tt.give.Exchange, tt.give.Destination)
			}
			if d.MessageId != tt.give.ID || d.ContentType != tt.give.ContentType {
				t.Errorf("message id, content type = %q, %q; want %q, %q", d.MessageId, d.ContentType, tt.give.ID, tt.give.ContentType)
			}
			if d.DeliveryMode != amqp091.Persistent {
				t.Errorf("delivery mode = %d, want persistent", d.DeliveryMode)
			}
			want := tt.wantHeaders
			if want == nil {
				want = tt.give.Headers
			}
			if len(d.Headers) != len(want) {
				t.Errorf("headers = %v, want %v", d.Headers, want)
			}
			for _, h := range want {
				if v, ok := d.Headers[h.Name].(string); !ok || v != h.Value {
					t.Errorf("header %s = %#v, want %q", h.Name, d.Headers[h.Name], h.Value)
				}
			}
		})
	}
	nothingMore(t, viaExchange, 100*time.Millisecond)
	nothingMore(t, viaDefault, 100*time.Millisecond)
}

// TestPublishUnroutableAmongRoutable publishes routable and unroutable
// messages at once over few channels: each publish gets its own answer,
// never another's (a publish waiting for a channel must not take the
// answer of the one before it), and exactly the confirmed ones arrive.
func TestPublishUnroutableAmongRoutable(t *testing.T) {
	url := sharedURL(t)
	for _, channels := range []int{1, 3} {
		t.Run(strconv.Itoa(channels)+" channels", func(t *testing.T) {
			a := newAdmin(t, url)
			ex := unique(t, "ex")
			a.exchange(ex)
			deliveries := a.queue(unique(t, "q"), ex, "bound", nil)
			p := newPublisher(t, Settings{URL: url, Channels: channels})
			waitUp(t, p, 10*time.Second)

			const n = 300
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					key := "bound"
					if i%3 == 0 {
						key = "nowhere"
					}
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					_, errs[i] = p.Publish(ctx, &broker.Message{
						Exchange: ex, Destination: key, ID: strconv.Itoa(i), Payload: []byte(strconv.Itoa(i)),
					})
				}()
			}
			wg.Wait()
			want := 0
			for i, err := range errs {
				if i%3 == 0 {
					if !errors.Is(err, broker.ErrNotConfirmed) || !strings.Contains(err.Error(), `"nowhere"`) {
						t.Errorf("unroutable %d: err = %v, want ErrNotConfirmed for key nowhere", i, err)
					}
					continue
				}
				if err != nil {
					t.Errorf("routable %d: %v", i, err)
				}
				want++
			}
			seen := map[string]bool{}
			for range want {
				d := receive(t, deliveries, 5*time.Second)
				i, err := strconv.Atoi(d.MessageId)
				if err != nil || i%3 == 0 || seen[d.MessageId] || string(d.Body) != d.MessageId {
					t.Fatalf("delivery id %q body %q: not one of the routable messages, or twice", d.MessageId, d.Body)
				}
				seen[d.MessageId] = true
			}
			nothingMore(t, deliveries, 100*time.Millisecond)
		})
	}
}

func TestPublishRefused(t *testing.T) {
	url := sharedURL(t)
	a := newAdmin(t, url)
	ex := unique(t, "ex")
	a.exchange(ex)
	full := unique(t, "full")
	// RabbitMQ nacks what a full reject-publish queue cannot take.
	a.queue(full, "", "", amqp091.Table{"x-max-length": int64(0), "x-overflow": "reject-publish"})
	ok := unique(t, "ok")
	okDeliveries := a.queue(ok, "", "", nil)
	p := newPublisher(t, Settings{URL: url, Channels: 1})
	waitUp(t, p, 10*time.Second)

	tests := []struct {
		desc string
		give broker.Message
		want string // in the error
	}{
		{desc: "no queue bound", give: broker.Message{Exchange: ex, Destination: "none"}, want: "NO_ROUTE"},
		{desc: "no such queue on the default exchange", give: broker.Message{Destination: unique(t, "missing")}, want: "NO_ROUTE"},
		{desc: "nacked by a full queue", give: broker.Message{Destination: full}, want: "nacked"},
		{desc: "no such exchange", give: broker.Message{Exchange: unique(t, "missing"), Destination: "x"}, want: "NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			tt.give.Payload = []byte("refused")
			ack, err := p.Publish(ctx, &tt.give)
			if !errors.Is(err, broker.ErrNotConfirmed) || !bytes.Contains([]byte(err.Error()), []byte(tt.want)) {
				t.Fatalf("err = %v (ack %+v), want ErrNotConfirmed with %q", err, ack, tt.want)
			}
			// The one channel still publishes (reopened after a
			// channel error).
			if _, err := p.Publish(ctx, &broker.Message{Destination: ok, Payload: []byte(tt.desc)}); err != nil {
				t.Fatal(err)
			}
			if d := receive(t, okDeliveries, 5*time.Second); string(d.Body) != tt.desc {
				t.Fatalf("got %q", d.Body)
			}
		})
	}
}

func TestPublishAfterClose(t *testing.T) {
	url := sharedURL(t)
	p := newPublisher(t, Settings{URL: url})
	waitUp(t, p, 10*time.Second)
	brokertest.CheckClose(t, p, "x")
}

func TestNewSettings(t *testing.T) {
	tests := []struct {
		desc    string
		give    Settings
		wantErr bool
	}{
		{desc: "zero value", give: Settings{}},
		{desc: "bad url", give: Settings{URL: "http://127.0.0.1/"}, wantErr: true},
		{desc: "max below min", give: Settings{MinBackoff: time.Second, MaxBackoff: time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			p, err := New(tt.give)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil {
				if p.maxBackoff < p.minBackoff || p.channels != DefaultChannels {
					t.Errorf("settings not defaulted: %+v", p)
				}
				_ = p.Close()
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	p := &Publisher{minBackoff: 100 * time.Millisecond, maxBackoff: time.Second}
	for n, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		for range 20 {
			if d := p.backoff(n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

// TestSilentServer points the publisher at a server that takes TCP
// connections and never answers: every attempt ends at ConnectTimeout,
// publishes fail at once meanwhile, and Close ends an attempt under way.
func TestSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	accepted := make(chan struct{}, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})

	p, err := New(Settings{
		URL: "amqp://guest:guest@" + ln.Addr().String() + "/", ConnectTimeout: 2 * time.Second,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// Two attempts: the first timed out (after 2s).
	for range 2 {
		select {
		case <-accepted:
		case <-time.After(10 * time.Second):
			t.Fatal("no connection attempt within 10s")
		}
	}
	if p.Up() {
		t.Fatal("up with a silent server")
	}
	_, err = p.Publish(context.Background(), &broker.Message{Destination: "x", Payload: []byte("x")})
	if !errors.Is(err, broker.ErrUnavailable) || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("err = %v, want ErrUnavailable after a timeout", err)
	}
	// The second attempt is under way.
	began := time.Now()
	_ = p.Close()
	// Well before the attempt's 2s timeout.
	if took := time.Since(began); took > time.Second {
		t.Errorf("Close took %v during a connection attempt", took)
	}
}
