package cache

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fastgate/gateway/internal/testwait"
)

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// hangingServer returns a loopback address that accepts connections and
// never answers, until the test ends.
func hangingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func mustTiered(t *testing.T, mem *Memory, client redis.UniversalClient, rs RedisSettings, s TieredSettings) *Tiered {
	t.Helper()
	r, err := NewRedis(client, rs)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTiered(mem, r, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// waitFor waits until cond holds, for at most limit.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	testwait.Until(t, limit, what, cond)
}

// TestTieredServesAnotherInstancesCopy: instance A stores a response;
// instance B, with its own memory and Redis client, serves A's copy as a
// stale one, then from its own memory.
func TestTieredServesAnotherInstancesCopy(t *testing.T) {
	ca, cb, cc := redisClient(t), redisClient(t), redisClient(t)
	rs := RedisSettings{Prefix: testPrefix(t, ca), TTL: time.Minute, Timeout: time.Second}
	s := Settings{MaxAge: 5 * time.Minute}
	a := mustTiered(t, mustMemory(t, s), ca, rs, TieredSettings{})
	b := mustTiered(t, mustMemory(t, s), cb, rs, TieredSettings{})
	c := mustTiered(t, mustMemory(t, s), cc, rs, TieredSettings{})

	key := AppendKey(nil, []byte("GET"), []byte("api.example.com"), []byte("/users/7"), []byte("v=1"))
	want := newEntry("user-7", 50, 2000, t0)
	a.Put(key, want)
	waitFor(t, "A's Redis write", 5*time.Second, func() bool { return a.Stats().RedisWrites == 1 })

	got, ok := b.Get(key, t0.Add(2*time.Minute))
	if !ok {
		t.Fatalf("B: miss; stats %+v", b.Stats())
	}
	if diff := sameEntry(got, want); diff != "" {
		t.Error(diff)
	}
	if _, ok := b.Get(key, t0.Add(3*time.Minute)); !ok {
		t.Fatal("B: second Get missed")
	}
	st := b.Stats()
	if st.RedisHits != 1 || st.Memory.Hits != 1 || st.Memory.Entries != 1 {
		t.Errorf("B: stats %+v, want one Redis hit, then one memory hit", st)
	}

	// Older than MaxAge, Redis's copy is no answer.
	if _, ok := c.Get(key, t0.Add(6*time.Minute)); ok {
		t.Error("C: served a copy older than max age")
	}
	if _, ok := c.Get([]byte("never stored"), t0); ok {
		t.Error("C: hit for a key never stored")
	}
	if st := c.Stats(); st.RedisMisses != 2 || st.RedisErrors != 0 {
		t.Errorf("C: stats %+v, want 2 Redis misses", st)
	}
}

// TestTieredRedisDown: with nothing listening where Redis should be,
// memory serves, a miss costs at most one quick attempt, and Put never
// waits.
func TestTieredRedisDown(t *testing.T) {
	tr := mustTiered(t, mustMemory(t, Settings{}), deadClient(t),
		RedisSettings{Timeout: 200 * time.Millisecond}, TieredSettings{RetryAfter: time.Hour})
	key := []byte("k")
	want := newEntry("a", 10, 10, t0)
	tr.Put(key, want)
	waitFor(t, "the failed Redis write", 5*time.Second, func() bool { return tr.Stats().RedisErrors == 1 })

	got, ok := tr.Get(key, t0)
	if !ok {
		t.Fatal("memory did not serve")
	}
	if diff := sameEntry(got, want); diff != "" {
		t.Error(diff)
	}
	// Neither misses nor Puts wait for Redis: while it is left alone no
	// attempt is made, which the error and drop counts show (a wall-clock
	// bound would only measure how loaded the machine is).
	for i := range 100 {
		if _, ok := tr.Get([]byte(fmt.Sprintf("missing-%d", i)), t0); ok {
			t.Fatal("hit for a key never stored")
		}
	}
	if st := tr.Stats(); st.RedisErrors != 1 {
		t.Errorf("%d Redis errors, want 1: Redis is left alone after one", st.RedisErrors)
	}

	for i := range 1000 {
		tr.Put([]byte(fmt.Sprintf("p%d", i)), newEntry("p", 10, 10, t0.Add(time.Second)))
	}
	if st := tr.Stats(); st.RedisDropped != 1000 || st.Memory.Entries != 1001 {
		t.Errorf("stats %+v, want 1000 Redis writes dropped, 1001 entries in memory", st)
	}
}

// TestTieredRedisHangs: a Redis that accepts and never answers costs a
// Get no more than the timeout, and Puts and Close do not wait for it.
func TestTieredRedisHangs(t *testing.T) {
	addr := hangingServer(t)
	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	const timeout = 100 * time.Millisecond
	mem := mustMemory(t, Settings{})
	r, err := NewRedis(client, RedisSettings{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTiered(mem, r, TieredSettings{QueueSize: 4, RetryAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })

	start := time.Now()
	if _, ok := tr.Get([]byte("k"), time.Now()); ok {
		t.Fatal("hit from a Redis that never answers")
	}
	if d := time.Since(start); d > timeout+time.Second {
		t.Errorf("Get took %v, timeout %v", d, timeout)
	}
	errs := tr.Stats().RedisErrors
	tr.Get([]byte("k"), time.Now())
	if st := tr.Stats(); st.RedisErrors != errs {
		t.Errorf("Get after a failure asked Redis again (%d errors, then %d); Redis should be left alone", errs, st.RedisErrors)
	}

	tr2, err := NewTiered(mustMemory(t, Settings{}), r, TieredSettings{QueueSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr2.Close() })
	start = time.Now()
	for i := range 200 {
		tr2.Put([]byte(fmt.Sprintf("p%d", i)), newEntry("p", 10, 10, time.Now()))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("200 Puts took %v: they waited for the hanging Redis", d)
	}
	start = time.Now()
	tr.Close()
	tr2.Close()
	if d := time.Since(start); d > timeout+time.Second {
		t.Errorf("Close took %v", d)
	}
	if st := tr2.Stats(); st.RedisDropped == 0 || st.Memory.Entries != 200 {
		t.Errorf("stats %+v, want dropped Redis writes and 200 entries in memory", st)
	}
}

func TestTieredClose(t *testing.T) {
	tr := mustTiered(t, mustMemory(t, Settings{}), deadClient(t), RedisSettings{}, TieredSettings{})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	key := []byte("k")
	tr.Put(key, newEntry("a", 1, 1, t0))
	if _, ok := tr.Get(key, t0); !ok {
		t.Error("memory does not serve after Close")
	}
}

func TestNewTieredRejectsBadArguments(t *testing.T) {
	r, err := NewRedis(deadClient(t), RedisSettings{})
	if err != nil {
		t.Fatal(err)
	}
	mem := mustMemory(t, Settings{})
	tests := []struct {
		desc string
		give func() (*Tiered, error)
	}{
		{desc: "no memory", give: func() (*Tiered, error) { return NewTiered(nil, r, TieredSettings{}) }},
		{desc: "no redis", give: func() (*Tiered, error) { return NewTiered(mem, nil, TieredSettings{}) }},
		{desc: "negative queue", give: func() (*Tiered, error) { return NewTiered(mem, r, TieredSettings{QueueSize: -1}) }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if tr, err := tt.give(); err == nil {
				tr.Close()
				t.Error("no error")
			}
		})
	}
}

// TestTieredRedisSizeRule: an entry memory takes but the Redis store
// finds too large stays in memory, and Redis is not taken for down.
func TestTieredRedisSizeRule(t *testing.T) {
	tr := mustTiered(t, mustMemory(t, Settings{MaxEntryBytes: 64 << 10}), deadClient(t),
		RedisSettings{MaxEntryBytes: 1 << 10}, TieredSettings{})
	key := []byte("k")
	tr.Put(key, newEntry("big", 10, 4<<10, t0))
	waitFor(t, "the Redis writer", 5*time.Second, func() bool { return tr.Stats().RedisDropped == 1 })
	if st := tr.Stats(); st.RedisErrors != 0 || st.Memory.Entries != 1 {
		t.Errorf("stats %+v, want no Redis error and the entry in memory", st)
	}
	if tr.skipUntil.Load() != 0 {
		t.Error("Redis is left alone after a size refusal")
	}
}
