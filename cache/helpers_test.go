package cache

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// t0 is the time the tests' entries are stored at.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// newEntry returns an entry whose header and body have the given sizes
// and whose body starts with tag.
func newEntry(tag string, headerLen, bodyLen int, stored time.Time) *Entry {
	body := bytes.Repeat([]byte{'b'}, bodyLen)
	copy(body, tag)
	return &Entry{
		Status: 200,
		Header: bytes.Repeat([]byte{'h'}, headerLen),
		Body:   body,
		Stored: stored,
	}
}

// sameEntry reports how got differs from want, or "".
func sameEntry(got, want *Entry) string {
	switch {
	case got == nil:
		return "no entry"
	case got.Status != want.Status:
		return fmt.Sprintf("status %d, want %d", got.Status, want.Status)
	case !bytes.Equal(got.Header, want.Header):
		return fmt.Sprintf("header %q, want %q", got.Header, want.Header)
	case !bytes.Equal(got.Body, want.Body):
		return fmt.Sprintf("body %.20q..., want %.20q...", got.Body, want.Body)
	case !got.Stored.Equal(want.Stored):
		return fmt.Sprintf("stored %v, want %v", got.Stored, want.Stored)
	}
	return ""
}

func mustMemory(t testing.TB, s Settings) *Memory {
	t.Helper()
	m, err := NewMemory(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// redisClient returns a client of the test Redis (REDIS_ADDR, by default
// 127.0.0.1:6379), closed when the test ends. Without a Redis the test
// is skipped, or fails when REQUIRE_SERVICES is set.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if os.Getenv("REQUIRE_SERVICES") != "" {
			t.Fatalf("redis at %s: %v (REQUIRE_SERVICES is set)", addr, err)
		}
		t.Skipf("no redis at %s: %v", addr, err)
	}
	return c
}

// testPrefix returns a key prefix of the test's own and deletes what was
// written under it when the test ends.
func testPrefix(t *testing.T, c *redis.Client) string {
	t.Helper()
	prefix := fmt.Sprintf("gateway-test:%s:%d:", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		keys, err := c.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return prefix
}

// deadClient returns a client of a loopback port where nothing listens.
func deadClient(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr: closedPort(t), ContextTimeoutEnabled: true, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond,
	})
	t.Cleanup(func() { c.Close() })
	return c
}
