package ttlcache

import (
	"sync"
)

const shardCount = 16

// Cache maps keys to values until each entry's expiry. It is safe for
// concurrent use.
type Cache[K comparable, V any] struct {
	shards   [shardCount]shard[K, V]
	perShard int
	shardOf  func(K) uint64
}

type shard[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]entry[V]
}

type entry[V any] struct {
	value   V
	expires int64 // unix nanoseconds
}

// New returns a cache holding at most about size entries (at least one
// per shard). shardOf spreads keys over the shards: it must be cheap and
// mix well (for example the first bytes of a hash).
func New[K comparable, V any](size int, shardOf func(K) uint64) *Cache[K, V] {
	per := size / shardCount
	if per < 1 {
		per = 1
	}
	c := &Cache[K, V]{perShard: per, shardOf: shardOf}
	for i := range c.shards {
		c.shards[i].m = make(map[K]entry[V], per)
	}
	return c
}

// Get returns the value of key if it is present and its expiry is after
// now (unix nanoseconds). It does not allocate.
func (c *Cache[K, V]) Get(key K, now int64) (V, bool) {
	s := &c.shards[c.shardOf(key)%shardCount]
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if !ok || now >= e.expires {
		var zero V
		return zero, false
	}
	return e.value, true
}

// Put stores value under key until expires (unix nanoseconds), making
// room in the key's shard when it is full.
func (c *Cache[K, V]) Put(key K, value V, expires int64, now int64) {
	s := &c.shards[c.shardOf(key)%shardCount]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && len(s.m) >= c.perShard {
		s.evictOne(now)
	}
	s.m[key] = entry[V]{value: value, expires: expires}
}

// Delete removes key.
func (c *Cache[K, V]) Delete(key K) {
	s := &c.shards[c.shardOf(key)%shardCount]
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// Len returns the number of entries, expired ones included.
func (c *Cache[K, V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// evictOne drops one entry: the first expired one among a few looked at,
// else the first one seen (Go's map order is random). The caller holds
// the lock.
func (s *shard[K, V]) evictOne(now int64) {
	const look = 8
	seen := 0
	var victim K
	for k, e := range s.m {
		if now >= e.expires {
			delete(s.m, k)
			return
		}
		if seen == 0 {
			victim = k
		}
		seen++
		if seen == look {
			break
		}
	}
	if seen > 0 {
		delete(s.m, victim)
	}
}

// Uint64Shard spreads uint64 keys that are already hashes.
func Uint64Shard(k uint64) uint64 { return k }

// DigestShard spreads SHA-256 digests by their first bytes.
func DigestShard(k [32]byte) uint64 {
	return uint64(k[0]) | uint64(k[1])<<8 | uint64(k[2])<<16 | uint64(k[3])<<24
}
