package cache

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRedisSharedBetweenInstances: what instance A writes, instance B
// (its own client) reads back whole, with its Stored time, and Redis
// holds it with the TTL.
func TestRedisSharedBetweenInstances(t *testing.T) {
	ca, cb := redisClient(t), redisClient(t)
	prefix := testPrefix(t, ca)
	s := RedisSettings{Prefix: prefix, TTL: time.Minute, Timeout: time.Second}
	a, err := NewRedis(ca, s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewRedis(cb, s)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := AppendKey(nil, []byte("GET"), []byte("api.example.com"), []byte("/users/1"), nil)
	want := newEntry("user-1", 60, 3000, t0)
	if err := a.Put(ctx, key, want); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if diff := sameEntry(got, want); diff != "" {
		t.Error(diff)
	}
	ttl, err := cb.PTTL(ctx, prefix+string(key)).Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("PTTL = %v, %v; want within 0 and 1m", ttl, err)
	}
}

func TestRedisErrors(t *testing.T) {
	c := redisClient(t)
	prefix := testPrefix(t, c)
	r, err := NewRedis(c, RedisSettings{Prefix: prefix, MaxEntryBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Set(ctx, prefix+"garbage", "not an entry", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		give func() error
		want error
	}{
		{desc: "missing key", give: func() error {
			_, err := r.Get(ctx, []byte("missing"))
			return err
		}, want: ErrNotFound},
		{desc: "value of another writer", give: func() error {
			_, err := r.Get(ctx, []byte("garbage"))
			return err
		}, want: ErrCorrupt},
		{desc: "too large", give: func() error {
			return r.Put(ctx, []byte("big"), newEntry("big", 0, 1024, t0))
		}, want: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if err := tt.give(); !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
	if n, _ := c.Exists(ctx, prefix+"big").Result(); n != 0 {
		t.Error("a too large entry was written")
	}
}

func TestNewRedisDefaults(t *testing.T) {
	c := deadClient(t)
	r, err := NewRedis(c, RedisSettings{})
	if err != nil {
		t.Fatal(err)
	}
	want := RedisSettings{TTL: DefaultRedisTTL, Timeout: DefaultRedisTimeout, MaxEntryBytes: DefaultMaxEntryBytes}
	if got := r.Settings(); got != want {
		t.Errorf("settings %+v, want %+v", got, want)
	}
	if _, err := NewRedis(c, RedisSettings{TTL: -1}); err == nil {
		t.Error("no error for a negative TTL")
	}
	if _, err := NewRedis(nil, RedisSettings{}); err == nil {
		t.Error("no error without a client")
	}
}

func TestRedisUnreachable(t *testing.T) {
	r, err := NewRedis(deadClient(t), RedisSettings{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := r.Get(ctx, []byte("k")); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Get: error %v, want a connection error", err)
	}
	if err := r.Put(ctx, []byte("k"), newEntry("a", 1, 1, t0)); err == nil {
		t.Error("Put: no error")
	}
}
