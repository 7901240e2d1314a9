package kafka

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/bridge/broker/brokertest"
)

func TestPublishRoundTrip(t *testing.T) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	tests := []struct {
		desc        string
		give        broker.Message
		wantKey     []byte
		wantHeaders []kgo.RecordHeader
	}{
		{
			desc: "key, id, content type and headers",
			give: broker.Message{
				Destination: "t1", Key: []byte("customer-7"), ID: "id-1", ContentType: "application/json",
				Headers: []broker.Header{{Name: "X-Trace", Value: "abc"}, {Name: "X-Empty", Value: ""}},
				Payload: []byte(`{"order":1}`),
			},
			wantKey: []byte("customer-7"),
			wantHeaders: []kgo.RecordHeader{
				{Key: "X-Trace", Value: []byte("abc")}, {Key: "X-Empty", Value: []byte{}},
				{Key: "Idempotency-Key", Value: []byte("id-1")}, {Key: "Content-Type", Value: []byte("application/json")},
			},
		},
		{
			desc:        "id as the key when there is none",
			give:        broker.Message{Destination: "t2", ID: "id-2", Payload: binary},
			wantKey:     []byte("id-2"),
			wantHeaders: []kgo.RecordHeader{{Key: "Idempotency-Key", Value: []byte("id-2")}},
		},
		{
			desc: "no key, no id, no headers",
			give: broker.Message{Destination: "t3", Payload: []byte("plain")},
		},
		{
			desc:    "empty payload",
			give:    broker.Message{Destination: "t4", Key: []byte("k")},
			wantKey: []byte("k"),
		},
	}
	_, addr := newCluster(t, 0, "t1", "t2", "t3", "t4")
	p := newPublisher(t, Settings{Brokers: []string{addr}})
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// The caller reuses its buffers once Publish returned.
			m := tt.give
			m.Payload = bytes.Clone(tt.give.Payload)
			m.Key = bytes.Clone(tt.give.Key)
			ack, err := p.Publish(ctx, &m)
			if err != nil {
				t.Fatal(err)
			}
			for i := range m.Payload {
				m.Payload[i] = 'X'
			}
			for i := range m.Key {
				m.Key[i] = 'X'
			}
			if ack.Kind != "kafka" || ack.Topic != tt.give.Destination {
				t.Errorf("ack = %+v", ack)
			}
			recs := consume(t, addr, tt.give.Destination, 1, 10*time.Second)
			if len(recs) != 1 {
				t.Fatalf("%d records", len(recs))
			}
			r := recs[0]
			if r.Topic != tt.give.Destination || r.Partition != ack.Partition || r.Offset != ack.Offset {
				t.Errorf("record at %s/%d@%d, ack %+v", r.Topic, r.Partition, r.Offset, ack)
			}
			if !bytes.Equal(r.Value, tt.give.Payload) || r.Value == nil {
				t.Errorf("value = %q (nil %v), want %q", r.Value, r.Value == nil, tt.give.Payload)
			}
			if !bytes.Equal(r.Key, tt.wantKey) || (tt.wantKey == nil) != (r.Key == nil) {
				t.Errorf("key = %q (nil %v), want %q", r.Key, r.Key == nil, tt.wantKey)
			}
			if len(r.Headers) != len(tt.wantHeaders) {
				t.Fatalf("headers = %v, want %v", r.Headers, tt.wantHeaders)
			}
			for i, h := range tt.wantHeaders {
				if r.Headers[i].Key != h.Key || !bytes.Equal(r.Headers[i].Value, h.Value) {
					t.Errorf("header %d = %s: %q, want %s: %q", i, r.Headers[i].Key, r.Headers[i].Value, h.Key, h.Value)
				}
			}
		})
	}
}

func TestPublishRefused(t *testing.T) {
	_, addr := newCluster(t, 0, "small")
	p := newPublisher(t, Settings{Brokers: []string{addr}, MaxBufferedBytes: 1 << 10})
	tests := []struct {
		desc string
		give broker.Message
	}{
		{desc: "no such topic", give: broker.Message{Destination: "missing", Payload: []byte("x")}},
		{desc: "larger than the buffer", give: broker.Message{Destination: "small", Payload: make([]byte, 2<<10)}},
		{desc: "no topic", give: broker.Message{Payload: []byte("x")}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			began := time.Now()
			ack, err := p.Publish(ctx, &tt.give)
			if !errors.Is(err, broker.ErrNotConfirmed) {
				t.Fatalf("err = %v (ack %+v), want ErrNotConfirmed", err, ack)
			}
			t.Logf("%v after %v", err, time.Since(began).Round(time.Millisecond))
		})
	}
}

func TestPublishAfterClose(t *testing.T) {
	_, addr := newCluster(t, 0, "t")
	p := newPublisher(t, Settings{Brokers: []string{addr}})
	if _, err := p.Publish(context.Background(), &broker.Message{Destination: "t", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	brokertest.CheckClose(t, p, "t")
}

func TestNewSettings(t *testing.T) {
	tests := []struct {
		desc    string
		give    Settings
		wantErr bool
	}{
		{desc: "zero value", give: Settings{}},
		{desc: "every field", give: Settings{
			Brokers: []string{"127.0.0.1:1"}, ClientID: "c", Linger: time.Millisecond, MaxBufferedRecords: 10,
			MaxBufferedBytes: 1 << 20, DeliveryTimeout: 2 * time.Second, RequestTimeout: time.Second,
			DialTimeout: time.Second, Compression: "zstd", AutoCreateTopics: true, PingInterval: time.Second,
		}},
		{desc: "delivery timeout under 1s", give: Settings{DeliveryTimeout: 500 * time.Millisecond}, wantErr: true},
		{desc: "request timeout under 100ms", give: Settings{RequestTimeout: time.Millisecond}, wantErr: true},
		{desc: "unknown compression", give: Settings{Compression: "brotli"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			p, err := New(tt.give)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil {
				_ = p.Close()
			}
		})
	}
}
