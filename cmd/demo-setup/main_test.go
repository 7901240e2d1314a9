package main

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestSetupKafka: the clicks topic is created on a broker that lacks it,
// left alone when it exists, and a Kafka that does not answer is skipped.
func TestSetupKafka(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seeds := c.ListenAddrs()

	if topicExists(t, seeds, clicksTopic) {
		t.Fatalf("a fresh cluster already has %s", clicksTopic)
	}
	done, err := setupKafka(seeds)
	if err != nil || done != "topic clicks created" {
		t.Fatalf("first run: %q, %v; want the topic created", done, err)
	}
	if !topicExists(t, seeds, clicksTopic) {
		t.Fatalf("the cluster has no %s after the setup", clicksTopic)
	}
	done, err = setupKafka(seeds)
	if err != nil || done != "topic clicks exists: left as it is" {
		t.Fatalf("second run: %q, %v; want the topic left as it is", done, err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	if _, err := setupKafka([]string{dead}); !errors.Is(err, errUnreachable) {
		t.Errorf("no broker at %s: %v, want errUnreachable", dead, err)
	}
}

// topicExists asks the cluster's metadata whether topic exists.
func topicExists(t *testing.T, seeds []string, topic string) bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.Topics) == 1 && resp.Topics[0].ErrorCode == 0
}

func TestRedactURL(t *testing.T) {
	for _, tt := range []struct{ give, want string }{
		{"amqp://guest:guest@127.0.0.1:5672/", "amqp://guest:xxxxx@127.0.0.1:5672/"},
		{"amqp://127.0.0.1:5672/", "amqp://127.0.0.1:5672/"},
		{"nonsense", "nonsense"},
	} {
		if got := redactURL(tt.give); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
