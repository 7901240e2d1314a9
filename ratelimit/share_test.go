package ratelimit

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestFallbackShareFollowsCount: with Redis down, the local fallback of a
// cluster limit is Rate/count and Burst/count of the live instance count
// (RedisSettings.Count), follows it as instances join and leave, and
// returns to the configured Instances while the count is unknown.
func TestFallbackShareFollowsCount(t *testing.T) {
	// Nothing listens on port 1: every call to Redis fails at once.
	client := redis.NewClient(ClientOptions("127.0.0.1:1", testTimeout()))
	t.Cleanup(func() { _ = client.Close() })
	var count atomic.Int64
	r := newRedis(t, RedisSettings{
		Client: client, Rate: 120, Burst: 120, Instances: 5,
		Count: func() int { return int(count.Load()) },
	})

	// admitted returns how many of 200 requests at one instant pass.
	now := time.Now()
	admitted := func(key string) int {
		now = now.Add(time.Hour) // every key's bucket full again
		n := 0
		for range 200 {
			if r.Allow([]byte(key), now).Allowed {
				n++
			}
		}
		return n
	}
	for _, tt := range []struct {
		desc        string
		count       int64
		want        int // Burst / instances, rounded up
		instances   int
		wantCounted bool
	}{
		{desc: "count unknown: instances", count: 0, want: 24, instances: 5},
		{desc: "three registered", count: 3, want: 40, instances: 3, wantCounted: true},
		{desc: "one joined", count: 4, want: 30, instances: 4, wantCounted: true},
		{desc: "two left", count: 2, want: 60, instances: 2, wantCounted: true},
		{desc: "alone", count: 1, want: 120, instances: 1, wantCounted: true},
		{desc: "unknown again: instances", count: -1, want: 24, instances: 5},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			count.Store(tt.count)
			if got := admitted("k"); got != tt.want {
				t.Errorf("count %d: %d of 200 admitted at once, want %d", tt.count, got, tt.want)
			}
			if n, counted := r.FallbackInstances(); n != tt.instances || counted != tt.wantCounted {
				t.Errorf("FallbackInstances() = %d, %v; want %d, %v", n, counted, tt.instances, tt.wantCounted)
			}
		})
	}
	if r.Healthy() {
		t.Error("Redis on port 1 counted as healthy")
	}

	// The same count keeps the same buckets: a drained bucket stays
	// drained (a new share would start full).
	count.Store(3)
	now = now.Add(time.Hour)
	for range 40 {
		r.Allow([]byte("same"), now)
	}
	if r.Allow([]byte("same"), now).Allowed {
		t.Error("a request past the share of 3 was admitted")
	}
}

// TestFallbackShareWithoutCount: without Count the share is
// Rate/Instances, whatever happens.
func TestFallbackShareWithoutCount(t *testing.T) {
	client := redis.NewClient(ClientOptions("127.0.0.1:1", testTimeout()))
	t.Cleanup(func() { _ = client.Close() })
	r := newRedis(t, RedisSettings{Client: client, Rate: 10, Burst: 10, Instances: 4})
	now := time.Now()
	n := 0
	for range 20 {
		if r.Allow([]byte("k"), now).Allowed {
			n++
		}
	}
	if n != 3 { // ceil(10/4)
		t.Errorf("%d admitted at once, want 3", n)
	}
	if got, counted := r.FallbackInstances(); got != 4 || counted {
		t.Errorf("FallbackInstances() = %d, %v; want 4, false", got, counted)
	}
}

// BenchmarkRedisDownFallback is a decision of the local fallback while
// Redis is down, with the share of Instances and with that of a live
// count: what following the count costs per request.
func BenchmarkRedisDownFallback(b *testing.B) {
	client := redis.NewClient(ClientOptions("127.0.0.1:1", testTimeout()))
	b.Cleanup(func() { _ = client.Close() })
	var count atomic.Int64
	count.Store(3)
	for _, bc := range []struct {
		name  string
		count func() int
	}{
		{"instances", nil},
		{"count", func() int { return int(count.Load()) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := newRedis(b, RedisSettings{Client: client, Rate: 1e6, Burst: 1e6, Instances: 3, Count: bc.count, RetryInterval: time.Hour})
			key := []byte("k")
			now := time.Now()
			r.Allow(key, now) // Redis found down
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r.Allow(key, now.Add(time.Duration(i)))
			}
		})
	}
}
