package nats

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/bridge/broker/brokertest"
)

// TestCorePublish: a subscriber gets the message as published, with
// its headers, except the reserved Nats- ones.
func TestCorePublish(t *testing.T) {
	url := sharedURL(t)
	nc, _ := admin(t, url)
	subject := "gwt.core." + unique(t)
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil { // the subscription is in place
		t.Fatal(err)
	}
	p := newPublisher(t, testSettings(url, false))

	tests := []struct {
		desc        string
		give        *broker.Message
		wantHeaders natsgo.Header // nil: none at all
	}{
		{desc: "payload only", give: &broker.Message{Payload: []byte("plain")}},
		{desc: "binary payload", give: &broker.Message{Payload: []byte{0, 0xfe, '\r', '\n', 'x'}}},
		{desc: "id, content type and headers",
			give: &broker.Message{ID: "m-1", ContentType: "text/plain; charset=utf-8",
				Headers: []broker.Header{{Name: "X-A", Value: "1"}, {Name: "X-A", Value: "2"}, {Name: "X-B", Value: ""}},
				Payload: []byte("with headers")},
			wantHeaders: natsgo.Header{
				"Nats-Msg-Id":  {"m-1"},
				"Content-Type": {"text/plain; charset=utf-8"},
				"X-A":          {"1", "2"},
				"X-B":          {""},
			}},
		{desc: "reserved headers are dropped",
			give: &broker.Message{
				Headers: []broker.Header{{Name: "Nats-Expected-Last-Sequence", Value: "1"}, {Name: "nats-rollup", Value: "all"}, {Name: "X-C", Value: "c"}},
				Payload: []byte("x")},
			wantHeaders: natsgo.Header{"X-C": {"c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tt.give.Destination = subject
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ack, err := p.Publish(ctx, tt.give)
			if err != nil {
				t.Fatal(err)
			}
			if ack != (broker.Ack{Kind: "nats"}) {
				t.Errorf("ack %+v", ack)
			}
			msg, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Subject != subject || !bytes.Equal(msg.Data, tt.give.Payload) {
				t.Errorf("got %q on %s, want %q on %s", msg.Data, msg.Subject, tt.give.Payload, subject)
			}
			if len(msg.Header) != len(tt.wantHeaders) {
				t.Errorf("headers %v, want %v", msg.Header, tt.wantHeaders)
			}
			for k, v := range tt.wantHeaders {
				if !slices.Equal(msg.Header[k], v) {
					t.Errorf("header %s = %q, want %q", k, msg.Header[k], v)
				}
			}
		})
	}
}

// TestRequest: Request returns the reply's payload; with nobody to
// answer, the broker counts as unavailable.
func TestRequest(t *testing.T) {
	url := sharedURL(t)
	nc, _ := admin(t, url)
	subject := "gwt.req." + unique(t)
	sub, err := nc.Subscribe(subject, func(m *natsgo.Msg) {
		_ = m.Respond(append([]byte(m.Header.Get("X-Who")+":"), m.Data...))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, js := range []bool{false, true} {
		p := newPublisher(t, testSettings(url, js))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		reply, err := p.Request(ctx, &broker.Message{Destination: subject, Headers: []broker.Header{{Name: "X-Who", Value: "me"}}, Payload: []byte("ping")})
		cancel()
		if err != nil || string(reply) != "me:ping" {
			t.Fatalf("jetstream %v: reply %q, err %v", js, reply, err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		_, err = p.Request(ctx, &broker.Message{Destination: subject + ".nobody", Payload: []byte("ping")})
		cancel()
		if !errors.Is(err, broker.ErrNoResponders) || errors.Is(err, broker.ErrUnavailable) {
			t.Fatalf("jetstream %v: no responders: err %v, want ErrNoResponders (the broker is there)", js, err)
		}
	}
}

// TestTimeout: a request nobody answers in time returns at ctx's
// deadline with the deadline's error.
func TestTimeout(t *testing.T) {
	url := sharedURL(t)
	nc, _ := admin(t, url)
	subject := "gwt.slow." + unique(t)
	sub, err := nc.SubscribeSync(subject) // listens, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	p := newPublisher(t, testSettings(url, false))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Request(ctx, &broker.Message{Destination: subject, Payload: []byte("x")})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, broker.ErrUnavailable) {
		t.Fatalf("err %v, want only a deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("returned after %v", d)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		desc string
		give Settings
	}{
		{desc: "negative timeout", give: Settings{Timeout: -1}},
		{desc: "negative reconnect wait", give: Settings{ReconnectWait: -time.Second}},
		{desc: "token and username", give: Settings{Token: "t", Username: "u"}},
		{desc: "password without username", give: Settings{Password: "p"}},
		{desc: "malformed url", give: Settings{URL: "nats://[::1"}},
		{desc: "missing credentials file", give: Settings{URL: "nats://127.0.0.1:1", CredentialsFile: "/nonexistent/gw.creds"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			p, err := New(tt.give)
			if err == nil {
				_ = p.Close()
				t.Fatal("New accepted the settings")
			}
			if p != nil {
				t.Fatal("New returned a publisher with its error")
			}
			if err := p.Close(); err != nil { // safe after a failed start
				t.Fatal(err)
			}
		})
	}
}

// TestClose: Close is safe twice, and the Publisher is then down.
func TestClose(t *testing.T) {
	url := sharedURL(t)
	p, err := New(testSettings(url, true))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Up() {
		t.Fatal("not up after New with the server up")
	}
	brokertest.CheckClose(t, p, "gwt.closed")
}

func TestBackoff(t *testing.T) {
	wait, maxWait := 100*time.Millisecond, time.Second
	for n, want := range []time.Duration{0, 100, 200, 400, 800, 1000, 1000} {
		if n == 0 {
			continue
		}
		want *= time.Millisecond
		for range 20 {
			if got := backoff(wait, maxWait, n); got < want || got > want+want/5 {
				t.Fatalf("round %d: %v, want %v plus at most a fifth", n, got, want)
			}
		}
	}
}
