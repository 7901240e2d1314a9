package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them.
func TestMain(m *testing.M) {
	// The outage tests make the client log every failed dial.
	goredis.SetLogger(quietLogger{})
	goleak.VerifyTestMain(m)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// sharedAddr returns the address of the test Redis (REDIS_ADDR, default
// 127.0.0.1:6379). Without it the test fails when REQUIRE_SERVICES is set
// and is skipped otherwise.
func sharedAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("REQUIRE_SERVICES") != "" {
			t.Fatalf("redis at %s: %v (REQUIRE_SERVICES is set)", addr, err)
		}
		t.Skipf("redis at %s: %v", addr, err)
	}
	return addr
}

// admin is a plain client for the tests' own setup and checks.
func admin(t testing.TB, addr string) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// key returns a key of its own for the test, deleted at cleanup.
func key(t testing.TB, c *goredis.Client, kind string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	k := "gwtest:" + kind + ":" + t.Name() + ":" + hex.EncodeToString(b)
	t.Cleanup(func() { _ = c.Del(context.Background(), k).Err() })
	return k
}

func newPublisher(t testing.TB, s Settings) *Publisher {
	t.Helper()
	p, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// testSettings notice an outage quickly.
func testSettings(addr string) Settings {
	return Settings{Addr: addr, DialTimeout: 500 * time.Millisecond, Timeout: 2 * time.Second, PingInterval: 50 * time.Millisecond}
}

// eventually polls cond every 20ms until it holds, failing after d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisServer is a redis-server a test runs on its own loopback port,
// without persistence.
type redisServer struct {
	t    testing.TB
	bin  string
	port int
	cmd  *exec.Cmd
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// ownServer returns a redis-server on a free loopback port, not started
// yet; it is stopped at cleanup.
func ownServer(t testing.TB) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		bin = "/usr/bin/redis-server"
		if _, serr := os.Stat(bin); serr != nil {
			if os.Getenv("REQUIRE_SERVICES") != "" {
				t.Fatalf("redis-server: %v (REQUIRE_SERVICES is set)", err)
			}
			t.Skipf("redis-server: %v", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &redisServer{t: t, bin: bin, port: port}
	t.Cleanup(s.stop)
	return s
}

func startOwnServer(t testing.TB) *redisServer {
	t.Helper()
	s := ownServer(t)
	s.start()
	return s
}

// start runs the server and waits until it answers PING.
func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", s.addr(), 100*time.Millisecond)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			buf := make([]byte, 7)
			if _, err = c.Write([]byte("PING\r\n")); err == nil {
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
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the server (as a crash would) and waits for it to exit.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
