package ratelimit

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func newRedis(t testing.TB, s RedisSettings) *Redis {
	t.Helper()
	r, err := NewRedis(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRedisSettings(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = client.Close() })
	tests := []struct {
		desc    string
		give    RedisSettings
		wantErr bool
	}{
		{desc: "defaults", give: RedisSettings{Client: client, Rate: 10}},
		{desc: "every on_redis_error", give: RedisSettings{Client: client, Rate: 10, OnError: OnErrorDeny}},
		{desc: "no client", give: RedisSettings{Rate: 10}, wantErr: true},
		{desc: "no rate", give: RedisSettings{Client: client}, wantErr: true},
		{desc: "unknown on_redis_error", give: RedisSettings{Client: client, Rate: 10, OnError: "retry"}, wantErr: true},
		{desc: "negative timeout", give: RedisSettings{Client: client, Rate: 10, Timeout: -1}, wantErr: true},
		{desc: "negative instances", give: RedisSettings{Client: client, Rate: 10, Instances: -1}, wantErr: true},
		{desc: "bad fallback cap", give: RedisSettings{Client: client, Rate: 10, MaxKeys: -1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := NewRedis(tt.give)
			if (err != nil) != tt.wantErr {
				t.Errorf("NewRedis error = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestRedisDecisions(t *testing.T) {
	c := sharedRedis(t)
	prefix := uniquePrefix(t)
	// 1 token a second, burst 3: the test's own pace cannot refill it.
	r := newRedis(t, RedisSettings{Client: c, Prefix: prefix, Rate: 1, Burst: 3, Timeout: testTimeout()})
	ms := time.Millisecond
	tests := []struct {
		desc string
		want Decision
		tol  time.Duration // on RetryAfter and Reset: real time passes
	}{
		{desc: "first", want: Decision{Allowed: true, Limit: 3, Remaining: 2, Reset: 1000 * ms}, tol: 5 * ms},
		{desc: "second", want: Decision{Allowed: true, Limit: 3, Remaining: 1, Reset: 2000 * ms}, tol: 100 * ms},
		{desc: "third", want: Decision{Allowed: true, Limit: 3, Remaining: 0, Reset: 3000 * ms}, tol: 200 * ms},
		{desc: "denied", want: Decision{Limit: 3, RetryAfter: 1000 * ms, Reset: 3000 * ms}, tol: 300 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := r.Allow([]byte("client"), time.Now())
			near := func(a, b time.Duration) bool { return a <= b && a >= b-tt.tol }
			if got.Allowed != tt.want.Allowed || got.Limit != tt.want.Limit || got.Remaining != tt.want.Remaining ||
				!near(got.RetryAfter, tt.want.RetryAfter) || !near(got.Reset, tt.want.Reset) {
				t.Errorf("got %+v, want %+v (times within %v below)", got, tt.want, tt.tol)
			}
		})
	}
	// The key lives until the bucket is full again, and no longer.
	ttl, err := c.PTTL(context.Background(), prefix+"client").Result()
	if err != nil || ttl <= 2*time.Second || ttl > 3*time.Second {
		t.Errorf("PTTL = %v, %v; want about 3s", ttl, err)
	}
	if s := r.Stats(); s != (RedisStats{}) || !r.Healthy() {
		t.Errorf("Stats = %+v, Healthy = %v; want nothing counted and healthy", s, r.Healthy())
	}
}

// TestRedisSharedAccuracy runs three limiters, each with its own client,
// against one Redis, with the load split 4:2:1 between them: together
// they admit rate × elapsed + burst.
func TestRedisSharedAccuracy(t *testing.T) {
	const (
		rate  = 200.0
		burst = 20
		span  = 2 * time.Second
	)
	prefix := uniquePrefix(t)
	workers := []int{4, 2, 1}
	limiters := make([]*Redis, len(workers))
	for i := range limiters {
		limiters[i] = newRedis(t, RedisSettings{
			Client: sharedRedis(t), Prefix: prefix, Rate: rate, Burst: burst,
			Timeout: testTimeout(), Instances: len(workers),
		})
	}
	passed := make([]atomic.Int64, len(workers))
	offered := make([]atomic.Int64, len(workers))
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(span)
	for i, n := range workers {
		for range n {
			wg.Go(func() {
				for range 20_000 { // bounded; the clock ends it first
					if time.Now().After(end) {
						return
					}
					offered[i].Add(1)
					if limiters[i].Allow([]byte("route"), time.Now()).Allowed {
						passed[i].Add(1)
					}
					time.Sleep(4 * time.Millisecond)
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	total, offers := 0, 0
	for i := range workers {
		total += int(passed[i].Load())
		offers += int(offered[i].Load())
		if s := limiters[i].Stats(); s.Fallbacks != 0 {
			t.Fatalf("instance %d fell back %d times (%+v): Redis too slow for this test", i, s.Fallbacks, s)
		}
	}
	want := int(rate*elapsed.Seconds()) + burst
	t.Logf("offered %d (%.1f× the rate), passed %d (%d, %d, %d), want %d in %v",
		offers, float64(offers)/(rate*elapsed.Seconds()), total, passed[0].Load(), passed[1].Load(), passed[2].Load(), want, elapsed)
	if float64(offers) < 1.5*rate*elapsed.Seconds() {
		t.Fatalf("offered only %d requests: not enough load to test the limit", offers)
	}
	if !within(total, want, 0.05) {
		t.Errorf("passed %d, want %d ±5%%", total, want)
	}
}

// TestRedisTimeout points a limiter at a server that accepts connections
// and never answers: each decision ends within the timeout and follows
// on_redis_error, and while down only one request a retry interval waits.
func TestRedisTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	const timeout = 50 * time.Millisecond
	client := redis.NewClient(ClientOptions(ln.Addr().String(), timeout))
	t.Cleanup(func() {
		_ = client.Close()
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	var changes []bool
	r := newRedis(t, RedisSettings{
		Client: client, Rate: 10, Burst: 2, Timeout: timeout, OnError: OnErrorDeny,
		RetryInterval: time.Hour, OnStateChange: func(up bool, err error) {
			changes = append(changes, up)
			if err == nil && !up {
				t.Errorf("down without an error")
			}
		},
	})
	slack := 100 * time.Millisecond
	if raceEnabled {
		slack = 400 * time.Millisecond
	}
	start := time.Now()
	d := r.Allow([]byte("k"), start)
	took := time.Since(start)
	if took < timeout || took > timeout+slack {
		t.Errorf("first decision took %v, want the timeout %v (+%v at most)", took, timeout, slack)
	}
	if d.Allowed || d.RetryAfter != time.Hour {
		t.Errorf("decision %+v, want a denial retrying after the retry interval", d)
	}
	start = time.Now()
	for range 100 {
		if r.Allow([]byte("k"), time.Now()).Allowed {
			t.Fatal("allowed while down with on_redis_error deny")
		}
	}
	if took := time.Since(start); took > slack {
		t.Errorf("100 decisions while down took %v: they should not wait for Redis", took)
	}
	if s := r.Stats(); s.Errors != 1 || s.Fallbacks != 101 || s.Outages != 1 || r.Healthy() {
		t.Errorf("Stats = %+v, Healthy = %v; want 1 error, 101 fallbacks, 1 outage, down", s, r.Healthy())
	}
	if len(changes) != 1 || changes[0] {
		t.Errorf("state changes %v, want one: down", changes)
	}
}
