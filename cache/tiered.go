package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Store is what the gateway's fallback step needs of a cache. Memory and
// Tiered implement it.
type Store interface {
	// Get returns key's entry, if one is held that is no older than the
	// store's MaxAge at now. The Entry is shared and read-only.
	Get(key []byte, now time.Time) (*Entry, bool)
	// Wants reports whether a response for key received at now would be
	// stored, so that the gateway copies a response only when it would.
	Wants(key []byte, now time.Time) bool
	// Put stores a copy of e under key, following the store's rules. It
	// never blocks on I/O.
	Put(key []byte, e *Entry)
}

var (
	_ Store = (*Memory)(nil)
	_ Store = (*Tiered)(nil)
)

// Defaults that a zero field of TieredSettings stands for.
const (
	DefaultQueueSize  = 256
	DefaultRetryAfter = time.Second
)

// TieredSettings configure a Tiered store.
type TieredSettings struct {
	// QueueSize bounds the Redis writes waiting to be sent; a Put that
	// finds the queue full writes to memory only. 0 means
	// DefaultQueueSize.
	QueueSize int
	// RetryAfter is how long Redis is left alone after a failed call, so
	// that a Redis that is down costs one Timeout, not one per request;
	// memory still serves meanwhile. 0 means DefaultRetryAfter.
	RetryAfter time.Duration
}

// TieredStats are a Tiered store's counters.
type TieredStats struct {
	Memory Stats
	// RedisHits and RedisMisses count Gets that memory missed.
	RedisHits, RedisMisses uint64
	// RedisErrors counts failed calls (down, timed out, bad value).
	RedisErrors uint64
	// RedisWrites counts entries written to Redis.
	RedisWrites uint64
	// RedisDropped counts entries not written to Redis: the queue was
	// full, Redis was being left alone after an error, or the entry was
	// over the Redis store's MaxEntryBytes.
	RedisDropped uint64
}

// Tiered is a Memory in front of a shared Redis. Get asks memory first,
// then Redis, and keeps what Redis returns in memory. Put stores in
// memory at once and hands what memory stored to one background writer
// for Redis, through a bounded queue: a request never waits for Redis to
// store. When Redis is down, memory keeps serving and Redis is tried
// again after RetryAfter. It is safe for concurrent use; Close stops the
// writer.
type Tiered struct {
	mem   *Memory
	redis *Redis
	s     TieredSettings

	queue     chan pending
	ctx       context.Context // ends with Close, and the write in flight with it
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	skipUntil atomic.Int64 // Unix nanoseconds before which Redis is not asked

	redisHits, redisMisses, redisErrors, redisWrites, redisDropped atomic.Uint64
}

// pending is an entry waiting for the Redis writer.
type pending struct {
	key string
	e   *Entry
}

// NewTiered returns a Tiered store over mem and r and starts its Redis
// writer. It owns neither mem nor r's client.
func NewTiered(mem *Memory, r *Redis, s TieredSettings) (*Tiered, error) {
	if mem == nil || r == nil {
		return nil, errors.New("cache: tiered store needs a memory and a redis store")
	}
	if s.QueueSize < 0 || s.RetryAfter < 0 {
		return nil, errors.New("cache: queue size and retry after must not be negative")
	}
	if s.QueueSize == 0 {
		s.QueueSize = DefaultQueueSize
	}
	if s.RetryAfter == 0 {
		s.RetryAfter = DefaultRetryAfter
	}
	t := &Tiered{
		mem: mem, redis: r, s: s,
		queue: make(chan pending, s.QueueSize),
		done:  make(chan struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	go t.write()
	return t, nil
}

// Close stops the Redis writer, dropping the writes still queued, and
// waits for it. It is safe to call more than once; Put after Close stores
// in memory only.
func (t *Tiered) Close() error {
	t.closeOnce.Do(func() {
		t.cancel()
		<-t.done
	})
	return nil
}

// Get returns key's entry from memory or, when memory has none, from
// Redis, within Redis's Timeout. An entry from Redis is kept in memory.
func (t *Tiered) Get(key []byte, now time.Time) (*Entry, bool) {
	if e, ok := t.mem.Get(key, now); ok {
		return e, true
	}
	if now.UnixNano() < t.skipUntil.Load() {
		return nil, false
	}
	e, err := t.redis.Get(t.ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		t.redisMisses.Add(1)
		return nil, false
	case errors.Is(err, ErrCorrupt):
		t.redisErrors.Add(1)
		return nil, false
	case err != nil:
		t.redisErrors.Add(1)
		t.skipUntil.Store(now.Add(t.s.RetryAfter).UnixNano())
		return nil, false
	}
	if maxAge := t.mem.s.MaxAge; maxAge > 0 && now.Sub(e.Stored) > maxAge {
		t.redisMisses.Add(1)
		return nil, false
	}
	t.redisHits.Add(1)
	t.mem.store(key, e, true)
	return e, true
}

// Wants reports whether a Put of key at now would store (see
// Memory.Wants).
func (t *Tiered) Wants(key []byte, now time.Time) bool { return t.mem.Wants(key, now) }

// Put stores a copy of e in memory and, when memory took it, queues it
// for Redis. It never waits for Redis.
func (t *Tiered) Put(key []byte, e *Entry) {
	k, held, ok := t.mem.store(key, e, false)
	if !ok {
		return
	}
	if e.Stored.UnixNano() < t.skipUntil.Load() {
		t.redisDropped.Add(1)
		return
	}
	select {
	case t.queue <- pending{k, held}:
	default:
		t.redisDropped.Add(1)
	}
}

// write sends queued entries to Redis until Close.
func (t *Tiered) write() {
	defer close(t.done)
	for {
		select {
		case <-t.ctx.Done():
			return
		case p := <-t.queue:
			err := t.redis.put(t.ctx, p.key, p.e)
			switch {
			case err == nil:
				t.redisWrites.Add(1)
			case t.ctx.Err() != nil:
				return
			case errors.Is(err, ErrTooLarge): // Redis's own size rule; Redis is fine
				t.redisDropped.Add(1)
			default:
				t.redisErrors.Add(1)
				t.skipUntil.Store(time.Now().Add(t.s.RetryAfter).UnixNano())
			}
		}
	}
}

// Stats returns t's counters.
func (t *Tiered) Stats() TieredStats {
	return TieredStats{
		Memory:       t.mem.Stats(),
		RedisHits:    t.redisHits.Load(),
		RedisMisses:  t.redisMisses.Load(),
		RedisErrors:  t.redisErrors.Load(),
		RedisWrites:  t.redisWrites.Load(),
		RedisDropped: t.redisDropped.Load(),
	}
}
