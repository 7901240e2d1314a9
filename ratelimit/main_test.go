package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
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
