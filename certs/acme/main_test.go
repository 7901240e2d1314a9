package acme_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/fastgate/gateway/internal/pebbletest"
	"github.com/fastgate/gateway/internal/testwait"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// certmagic's ACME client keeps idle connections to the CA
		// (HTTP/2 to Pebble) open in its own transport until they time out.
		goleak.IgnoreAnyFunction("net/http.(*http2ClientConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		// certmagic keeps one rate limiter per CA and account for the
		// life of the process.
		goleak.IgnoreTopFunction("github.com/caddyserver/certmagic.(*RingBufferRateLimiter).permit"),
		// certmagic's file storage refreshes a lock file every 5 s in a
		// goroutine that ends at its first look after the unlock.
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.keepLockfileFresh"),
	)
}

// require skips the test when a service is missing, or fails it when
// REQUIRE_SERVICES is set.
func require(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("REQUIRE_SERVICES") != "" {
		t.Fatalf(format+" (REQUIRE_SERVICES is set)", args...)
	}
	t.Skipf(format+"; start it with scripts/services.sh", args...)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// pebble returns the directory URL of the shared test Pebble and the
// pool of the roots it issues under.
func pebble(t testing.TB) (dir string, issuing *x509.CertPool) {
	t.Helper()
	return pebbletest.Shared(t, pebbleCA)
}

// pebbleCA is the CA of Pebble's own HTTPS endpoints.
const pebbleCA = "testdata/pebble.minica.pem"

// sharedRedis returns a client of the test Redis (REDIS_ADDR, default
// 127.0.0.1:6379) and a key prefix of its own, whose keys it deletes at
// the end.
func sharedRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	addr := envOr("REDIS_ADDR", "127.0.0.1:6379")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		require(t, "redis at %s: %v", addr, err)
	}
	prefix := "acmetest-" + randomHex(t, 6)
	t.Cleanup(func() {
		ctx := context.Background()
		var cursor uint64
		for {
			keys, next, err := rdb.Scan(ctx, cursor, "{"+prefix+"}*", 100).Result()
			if err != nil {
				break
			}
			if len(keys) > 0 {
				rdb.Del(ctx, keys...)
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
		rdb.Close()
	})
	return rdb, prefix
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// testLogger collects logs in memory and prints them when the test
// fails; lines logged after the test ended are kept, not printed.
func testLogger(t testing.TB) *slog.Logger {
	t.Helper()
	buf := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log("logs:\n" + buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// eventually waits until cond holds, for at most d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, d, what, cond)
}

// loopbackListener listens on a free loopback port.
func loopbackListener(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
