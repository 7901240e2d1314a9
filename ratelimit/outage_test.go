package ratelimit

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fastgate/gateway/internal/testserver"
)

// outageLimiter is one limiter of TestRedisOutage with what it saw.
type outageLimiter struct {
	onError string
	r       *Redis
	mu      sync.Mutex
	changes []bool
	errs    []error
}

func (o *outageLimiter) seen() []bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.changes)
}

// TestRedisOutage stops a real redis-server under three limiters, one for
// each on_redis_error, and starts it again: while it is down requests
// follow on_redis_error without waiting past the timeout, each limiter
// reports the outage once, and once Redis is back the limit is shared
// through it again.
func TestRedisOutage(t *testing.T) {
	srv := testserver.Redis(t).Start()
	timeout := testTimeout()
	slack := 100 * time.Millisecond
	if raceEnabled {
		slack = 300 * time.Millisecond
	}
	prefix := uniquePrefix(t)
	admin := redis.NewClient(ClientOptions(srv.Addr(), time.Second))
	t.Cleanup(func() { _ = admin.Close() })
	ctx := context.Background()

	// The probes and the local fallback follow the now passed in: a
	// simulated clock that runs ahead of real time. Redis keeps its own.
	clock := time.Now()
	tick := func(d time.Duration) time.Time { clock = clock.Add(d); return clock }

	var ls []*outageLimiter
	for _, mode := range []string{OnErrorAllow, OnErrorDeny, OnErrorLocal} {
		client := redis.NewClient(ClientOptions(srv.Addr(), timeout))
		t.Cleanup(func() { _ = client.Close() })
		o := &outageLimiter{onError: mode}
		o.r = newRedis(t, RedisSettings{
			Client: client, Prefix: prefix, Rate: 1, Burst: 10, Timeout: timeout,
			OnError: mode, Instances: 2, RetryInterval: 500 * time.Millisecond,
			OnStateChange: func(up bool, err error) {
				o.mu.Lock()
				defer o.mu.Unlock()
				o.changes = append(o.changes, up)
				o.errs = append(o.errs, err)
			},
		})
		ls = append(ls, o)
	}

	// Up: decisions are made in Redis.
	for _, o := range ls {
		key := "up-" + o.onError
		if d := o.r.Allow([]byte(key), tick(time.Millisecond)); !d.Allowed || d.Remaining != 9 {
			t.Fatalf("%s: first decision %+v, want allowed with 9 remaining", o.onError, d)
		}
		if n, err := admin.Exists(ctx, prefix+key).Result(); n != 1 {
			t.Fatalf("%s: key not in Redis (%d, %v)", o.onError, n, err)
		}
	}

	srv.Stop()

	// Down: 300 requests each, 100 a simulated second for 3 seconds.
	for _, o := range ls {
		passed := 0
		var slowest time.Duration
		for range 300 {
			start := time.Now()
			if o.r.Allow([]byte("down"), tick(10*time.Millisecond)).Allowed {
				passed++
			}
			slowest = max(slowest, time.Since(start))
		}
		if slowest > timeout+slack {
			t.Errorf("%s: a decision took %v while Redis was down, over the timeout %v", o.onError, slowest, timeout)
		}
		// local: Rate/Instances = 0.5/s, Burst/Instances = 5, for 3s.
		want := map[string][2]int{OnErrorAllow: {300, 300}, OnErrorDeny: {0, 0}, OnErrorLocal: {6, 7}}[o.onError]
		if passed < want[0] || passed > want[1] {
			t.Errorf("%s: %d of 300 passed while Redis was down, want %d to %d", o.onError, passed, want[0], want[1])
		}
		s := o.r.Stats()
		if s.Outages != 1 || s.Fallbacks != 300 || s.Errors < 1 || s.Errors > 10 || o.r.Healthy() {
			t.Errorf("%s: Stats %+v, Healthy %v; want 1 outage, 300 fallbacks, a few errors, down", o.onError, s, o.r.Healthy())
		}
		if got := o.seen(); !slices.Equal(got, []bool{false}) || o.errs[0] == nil {
			t.Errorf("%s: state changes %v (%v), want one: down, with its error", o.onError, got, o.errs)
		}
	}

	srv.Start()
	if ok, _ := admin.ScriptExists(ctx, gcraScript.Hash()).Result(); len(ok) != 1 || ok[0] {
		t.Fatalf("SCRIPT EXISTS after the restart = %v, want [false]", ok)
	}

	// Back: each limiter finds Redis again within a few retry intervals.
	for _, o := range ls {
		deadline := time.Now().Add(5 * time.Second)
		for i := 0; !o.r.Healthy(); i++ {
			if i >= 200 || time.Now().After(deadline) {
				t.Fatalf("%s: still down 5s after Redis came back (%+v)", o.onError, o.r.Stats())
			}
			start := time.Now()
			o.r.Allow([]byte("probe"), tick(100*time.Millisecond))
			if took := time.Since(start); took > timeout+slack {
				t.Errorf("%s: a decision took %v while Redis came back", o.onError, took)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got := o.seen(); !slices.Equal(got, []bool{false, true}) {
			t.Errorf("%s: state changes %v, want down then up", o.onError, got)
		}
	}
	if ok, _ := admin.ScriptExists(ctx, gcraScript.Hash()).Result(); len(ok) != 1 || !ok[0] {
		t.Errorf("SCRIPT EXISTS after recovery = %v, want [true] (reloaded by EVAL)", ok)
	}

	// The limit is shared in Redis again: one instance drains the bucket
	// (burst 10, not the fallback's 5), the others are then refused.
	for i := range 10 {
		if d := ls[0].r.Allow([]byte("shared"), tick(time.Millisecond)); !d.Allowed || d.Remaining != 9-i {
			t.Fatalf("request %d after recovery: %+v, want allowed with %d remaining", i, d, 9-i)
		}
	}
	for _, o := range ls[1:] {
		if d := o.r.Allow([]byte("shared"), tick(time.Millisecond)); d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
			t.Errorf("%s: after another instance drained the key: %+v, want denied for up to 1s", o.onError, d)
		}
	}
	if n, err := admin.Exists(ctx, prefix+"shared").Result(); n != 1 {
		t.Errorf("shared key not in Redis (%d, %v)", n, err)
	}
	for _, o := range ls {
		if s := o.r.Stats(); s.Outages != 1 {
			t.Errorf("%s: %d outages, want 1", o.onError, s.Outages)
		}
	}
}

// TestRedisOutageUnderLoad stops and restarts Redis while requests keep
// coming from several goroutines: no request waits past the timeout, and
// each limiter reports exactly one outage and one recovery, whatever was
// in flight when Redis went away or came back.
func TestRedisOutageUnderLoad(t *testing.T) {
	srv := testserver.Redis(t).Start()
	timeout := testTimeout()
	slack := 100 * time.Millisecond
	if raceEnabled {
		slack = 300 * time.Millisecond
	}
	prefix := uniquePrefix(t)
	var ls []*outageLimiter
	for _, mode := range []string{OnErrorAllow, OnErrorDeny, OnErrorLocal} {
		client := redis.NewClient(ClientOptions(srv.Addr(), timeout))
		t.Cleanup(func() { _ = client.Close() })
		o := &outageLimiter{onError: mode}
		o.r = newRedis(t, RedisSettings{
			Client: client, Prefix: prefix, Rate: 100, Burst: 10, Timeout: timeout,
			OnError: mode, RetryInterval: 100 * time.Millisecond,
			OnStateChange: func(up bool, _ error) {
				o.mu.Lock()
				defer o.mu.Unlock()
				o.changes = append(o.changes, up)
			},
		})
		ls = append(ls, o)
	}

	stop := make(chan struct{})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		slowest time.Duration
	)
	decided := make([]atomic.Int64, len(ls)) // decisions made, per limiter
	var halted sync.Once
	halt := func() { halted.Do(func() { close(stop) }); wg.Wait() }
	defer halt() // also when a wait below fails
	for i, o := range ls {
		for range 2 {
			wg.Go(func() {
				for range 10_000 { // bounded; stop ends it first
					select {
					case <-stop:
						return
					default:
					}
					start := time.Now()
					o.r.Allow([]byte("load"), start)
					took := time.Since(start)
					decided[i].Add(1)
					mu.Lock()
					slowest = max(slowest, took)
					mu.Unlock()
					time.Sleep(2 * time.Millisecond)
				}
			})
		}
	}
	// waitUntil polls cond for each limiter, bounded.
	waitUntil := func(what string, cond func(i int, o *outageLimiter) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for i, o := range ls {
			for !cond(i, o) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: not %s within 10s (%+v)", o.onError, what, o.r.Stats())
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	// moreDecisions waits until each limiter has decided n more times.
	moreDecisions := func(n int64) {
		t.Helper()
		from := make([]int64, len(ls))
		for i := range ls {
			from[i] = decided[i].Load()
		}
		waitUntil("deciding", func(i int, _ *outageLimiter) bool { return decided[i].Load() >= from[i]+n })
	}
	moreDecisions(20)
	srv.Stop()
	// Down for a while under load: each limiter has seen the outage,
	// retried Redis a few times, and decided by on_redis_error.
	waitUntil("down", func(_ int, o *outageLimiter) bool {
		s := o.r.Stats()
		return !o.r.Healthy() && s.Fallbacks >= 20 && s.Errors >= 3
	})
	srv.Start()
	waitUntil("back up", func(_ int, o *outageLimiter) bool { return o.r.Healthy() })
	moreDecisions(20)
	halt()

	t.Logf("slowest decision %v", slowest)
	if slowest > timeout+slack {
		t.Errorf("a decision took %v, over the timeout %v", slowest, timeout)
	}
	for _, o := range ls {
		s := o.r.Stats()
		if got := o.seen(); !slices.Equal(got, []bool{false, true}) || s.Outages != 1 || !o.r.Healthy() {
			t.Errorf("%s: state changes %v, Stats %+v, Healthy %v; want down then up, 1 outage", o.onError, got, s, o.r.Healthy())
		}
		if s.Fallbacks == 0 {
			t.Errorf("%s: no decision fell back while Redis was down", o.onError)
		}
	}
}
