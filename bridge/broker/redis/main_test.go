package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/fastgate/gateway/internal/testwait"
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

// eventually waits until cond holds, for at most d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, d, what, cond)
}

// redisServer is a redis-server a test runs on its own loopback port,
