package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults that a zero field of RedisSettings stands for.
const (
	DefaultRedisTTL     = 10 * time.Minute
	DefaultRedisTimeout = 100 * time.Millisecond
)

// Errors of Redis, to tell apart with errors.Is.
var (
	// ErrNotFound: Redis holds no entry for the key.
	ErrNotFound = errors.New("cache: not in redis")
	// ErrTooLarge: the entry is larger than MaxEntryBytes and was not
	// written.
	ErrTooLarge = errors.New("cache: entry larger than max entry bytes; not stored")
)

// RedisSettings configure a Redis store.
type RedisSettings struct {
	// Prefix starts every key written, e.g. "gateway:cache:"; instances
	// that share copies use the same prefix. May be empty.
	Prefix string
	// TTL is how long Redis keeps an entry. 0 means DefaultRedisTTL.
	TTL time.Duration
	// Timeout bounds each call. 0 means DefaultRedisTimeout. go-redis
	// keeps to it only when the client was built with
	// ContextTimeoutEnabled; otherwise its ReadTimeout and WriteTimeout
	// apply.
	Timeout time.Duration
	// MaxEntryBytes is the largest entry written, counted as for
	// Settings.MaxBytes (key, header, body and EntryOverhead). 0 means
	// DefaultMaxEntryBytes.
	MaxEntryBytes int
}

// Redis stores entries in Redis under Prefix+key, in a compact binary
// form, each with a TTL. It is safe for concurrent use. It does not own
// the client: closing the client is the caller's.
type Redis struct {
	client redis.UniversalClient
	s      RedisSettings
}

// NewRedis returns a Redis store over client, or the errors of s.
func NewRedis(client redis.UniversalClient, s RedisSettings) (*Redis, error) {
	if client == nil {
		return nil, errors.New("cache: redis store needs a client")
	}
	if s.TTL < 0 || s.Timeout < 0 || s.MaxEntryBytes < 0 {
		return nil, errors.New("cache: redis ttl, timeout and max entry bytes must not be negative")
	}
	if s.TTL == 0 {
		s.TTL = DefaultRedisTTL
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultRedisTimeout
	}
	if s.MaxEntryBytes == 0 {
		s.MaxEntryBytes = DefaultMaxEntryBytes
	}
	return &Redis{client: client, s: s}, nil
}

// Settings returns r's settings, defaults applied.
func (r *Redis) Settings() RedisSettings { return r.s }

// Get returns key's entry, ErrNotFound, or the error of the call (within
// Timeout). The Entry is the caller's.
func (r *Redis) Get(ctx context.Context, key []byte) (*Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, r.s.Timeout)
	defer cancel()
	b, err := r.client.Get(ctx, r.s.Prefix+string(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("cache: redis get: %w", err)
	}
	return decode(b)
}

// Put writes e under key with the TTL, or returns ErrTooLarge or the
// error of the call (within Timeout).
func (r *Redis) Put(ctx context.Context, key []byte, e *Entry) error {
	return r.put(ctx, string(key), e)
}

func (r *Redis) put(ctx context.Context, key string, e *Entry) error {
	if entrySize(len(key), e) > int64(r.s.MaxEntryBytes) {
		return ErrTooLarge
	}
	v := appendEncoded(make([]byte, 0, encodedLen(e)), e)
	ctx, cancel := context.WithTimeout(ctx, r.s.Timeout)
	defer cancel()
	if err := r.client.Set(ctx, r.s.Prefix+key, v, r.s.TTL).Err(); err != nil {
		return fmt.Errorf("cache: redis set: %w", err)
	}
	return nil
}
