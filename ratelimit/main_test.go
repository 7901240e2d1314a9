package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The outage tests make go-redis log every failed dial.
	redis.SetLogger(quietLogger{})
	goleak.VerifyTestMain(m)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// t0 is the start of the simulated clock the local tests step.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

func newLocal(t testing.TB, s LocalSettings) *Local {
	t.Helper()
	l, err := NewLocal(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testTimeout bounds one Redis decision in tests: loose enough for the
// race detector on a busy 2-core machine, where 50 ms can pass without
// the test's goroutine running.
func testTimeout() time.Duration {
	if raceEnabled {
		return 500 * time.Millisecond
	}
	return 200 * time.Millisecond
}

// sharedRedis returns a client of the test Redis (REDIS_ADDR, default
// 127.0.0.1:6379). Without it the test fails when REQUIRE_SERVICES is set
// and is skipped otherwise.
func sharedRedis(t testing.TB) *redis.Client {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(ClientOptions(addr, testTimeout()))
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("REQUIRE_SERVICES") != "" {
			t.Fatalf("redis at %s: %v (REQUIRE_SERVICES is set)", addr, err)
		}
		t.Skipf("redis at %s: %v", addr, err)
	}
	return c
}

// uniquePrefix keeps each test's keys apart in a Redis shared with others.
func uniquePrefix(t testing.TB) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "rltest:" + t.Name() + ":" + hex.EncodeToString(b) + ":"
}

// redisServer is a redis-server the test runs on its own loopback port.
type redisServer struct {
	t    testing.TB
	bin  string
	port int
	cmd  *exec.Cmd
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// startRedisServer starts redis-server on a free loopback port, without
// persistence, and waits until it answers. It is stopped at cleanup.
func startRedisServer(t testing.TB) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("REQUIRE_SERVICES") != "" {
			t.Fatalf("redis-server: %v (REQUIRE_SERVICES is set)", err)
		}
		t.Skipf("redis-server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &redisServer{t: t, bin: bin, port: port}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	// Ready when it answers PING; bounded in attempts and time.
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", s.addr(), 100*time.Millisecond)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, err = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			if err == nil {
				_, err = c.Read(buf)
			}
			c.Close()
			if err == nil && string(buf) == "+PONG\r\n" {
				return
			}
		}
		if i >= 500 || time.Now().After(deadline) {
			s.stop()
			s.t.Fatalf("redis-server on %s not ready: %v", s.addr(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop ends the server with SIGTERM and waits for it (killing it after 5s).
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}
