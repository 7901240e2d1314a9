package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fastgate/gateway/internal/logtest"
)

// TestDependencyLogsAreJSON: with the gateway's logger in JSON, a dial
// that go-redis fails is logged as a JSON line through that logger, not
// as go-redis's own plain line on stderr; grpc-go's and amqp091's lines
// go the same way.
func TestDependencyLogsAreJSON(t *testing.T) {
	var out logtest.Buffer
	log, err := newLogger(&out, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	routeDependencyLogs(log)
	t.Cleanup(func() { routeDependencyLogs(slog.New(slog.NewTextHandler(os.Stderr, nil))) })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	client := goredis.NewClient(&goredis.Options{Addr: dead, MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err == nil {
		t.Fatalf("ping of %s answered", dead)
	}
	grpcLogger{log}.Errorf("grpc failed: %d", 7)
	grpcLogger{log}.Warningf("grpc connection attempt %d", 1) // debug: left out at info
	amqpLogger{log}.Printf("Channel %d closed unexpectedly: %v", 1, "EOF")

	var dial, grpc, amqp, chatty int
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		msg, _ := m["msg"].(string)
		switch {
		case strings.HasPrefix(msg, "redis: ") && strings.Contains(msg, "failed to dial") && m["level"] == "WARN":
			dial++
		case msg == "grpc: grpc failed: 7" && m["level"] == "ERROR":
			grpc++
		case strings.HasPrefix(msg, "grpc: grpc connection attempt"):
			chatty++
		case msg == "amqp: Channel 1 closed unexpectedly: EOF" && m["level"] == "WARN":
			amqp++
		}
	}
	if dial == 0 || grpc != 1 || amqp != 1 || chatty != 0 {
		t.Errorf("dial %d, grpc %d, amqp %d, grpc chatter %d lines; want >0, 1, 1, 0 in:\n%s", dial, grpc, amqp, chatty, out.String())
	}
}
