package acme

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"
)

// Defaults of RedisSettings.
const (
	DefaultRedisPrefix      = "certmagic"
	DefaultLockTTL          = 30 * time.Second
	DefaultLockPollInterval = time.Second
)

// RedisSettings configure a RedisStorage. The zero value of each field
// but Client has the default its comment names.
type RedisSettings struct {
	// Client is the Redis the gateways of a fleet share. Required. A
	// cluster client works: every key of one storage carries the same
	// hash tag, so all of them live in one slot.
	Client redis.UniversalClient
	// Prefix starts every key, as {Prefix}:...; DefaultRedisPrefix when
	// empty. Gateways that share certificates use the same prefix.
	Prefix string
	// LockTTL is how long a lock outlives a holder that stops renewing
	// it (a crashed gateway); DefaultLockTTL when 0. A held lock is
	// renewed every LockTTL/3.
	LockTTL time.Duration
	// LockPollInterval is how often Lock retries a lock held elsewhere;
	// DefaultLockPollInterval when 0.
	LockPollInterval time.Duration
	// Logger receives a warning when a held lock is lost; slog.Default
	// when nil.
	Logger *slog.Logger
}

// RedisStorage is a certmagic.Storage in Redis, with its Locker, so that
// gateways sharing a Redis share certificates, ACME accounts and
// challenge answers, and one of them obtains each certificate while the
// others wait for it and then load it.
//
// Layout, below the hash tag {Prefix}: each file is a hash
// {Prefix}:v:KEY with its bytes (v) and modification time in Unix
// milliseconds (m); the sorted set {Prefix}:index holds every file key
// (score 0, ordered bytewise) so that a directory is a range of it; a
// lock is the string {Prefix}:lock:NAME holding a random token, set with
// NX and an expiry of LockTTL, renewed while held and deleted on Unlock
// only when it still holds this holder's token.
//
// A RedisStorage is safe for concurrent use. Close stops the renewal of
// the locks it holds (they then expire).
type RedisStorage struct {
	rdb      redis.UniversalClient
	tag      string // "{prefix}"
	ttl      time.Duration
	poll     time.Duration
	log      *slog.Logger
	mu       sync.Mutex
	held     map[string]*heldLock
	closed   bool
	renewals sync.WaitGroup
}

type heldLock struct {
	token string
	stop  chan struct{}
	done  chan struct{}
}

var (
	_ certmagic.Storage          = (*RedisStorage)(nil)
	_ certmagic.TryLocker        = (*RedisStorage)(nil)
	_ certmagic.LockLeaseRenewer = (*RedisStorage)(nil)
)

// ErrNotLocked is the error of Unlock or RenewLockLease for a lock this
// storage does not hold.
var ErrNotLocked = errors.New("acme: lock not held by this storage")

// NewRedisStorage returns a storage on s.Client; it does not connect.
func NewRedisStorage(s RedisSettings) (*RedisStorage, error) {
	if s.Client == nil {
		return nil, errors.New("acme: RedisSettings.Client is required")
	}
	if s.Prefix == "" {
		s.Prefix = DefaultRedisPrefix
	}
	if strings.ContainsAny(s.Prefix, "{}") {
		return nil, fmt.Errorf("acme: Redis prefix %q: braces are not allowed (the prefix becomes a hash tag)", s.Prefix)
	}
	if s.LockTTL <= 0 {
		s.LockTTL = DefaultLockTTL
	}
	if s.LockPollInterval <= 0 {
		s.LockPollInterval = DefaultLockPollInterval
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	return &RedisStorage{
		rdb:  s.Client,
		tag:  "{" + s.Prefix + "}",
		ttl:  s.LockTTL,
		poll: s.LockPollInterval,
		log:  s.Logger,
		held: make(map[string]*heldLock),
	}, nil
}

func (r *RedisStorage) valueKey(key string) string { return r.tag + ":v:" + key }
func (r *RedisStorage) indexKey() string           { return r.tag + ":index" }
func (r *RedisStorage) lockKey(name string) string { return r.tag + ":lock:" + name }

// Store writes value at key.
func (r *RedisStorage) Store(ctx context.Context, key string, value []byte) error {
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, r.valueKey(key), "v", value, "m", time.Now().UnixMilli())
		p.ZAdd(ctx, r.indexKey(), redis.Z{Member: key})
		return nil
	})
	if err != nil {
		return fmt.Errorf("acme: redis store %s: %w", key, err)
	}
	return nil
}

// Load reads the value at key; fs.ErrNotExist when there is none.
func (r *RedisStorage) Load(ctx context.Context, key string) ([]byte, error) {
	v, err := r.rdb.HGet(ctx, r.valueKey(key), "v").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fs.ErrNotExist
	}
	if err != nil {
		return nil, fmt.Errorf("acme: redis load %s: %w", key, err)
	}
	return v, nil
}

// under returns the file keys below the directory dir ("" for all), at
// most limit of them (0: all).
func (r *RedisStorage) under(ctx context.Context, dir string, limit int64) ([]string, error) {
	by := &redis.ZRangeBy{Min: "-", Max: "+", Count: limit}
	if dir != "" {
		by.Min, by.Max = "["+dir+"/", "("+dir+"/\xff"
	}
	return r.rdb.ZRangeByLex(ctx, r.indexKey(), by).Result()
}

// Delete removes key and, as a directory, every key below it.
func (r *RedisStorage) Delete(ctx context.Context, key string) error {
	below, err := r.under(ctx, key, 0)
	if err != nil {
		return fmt.Errorf("acme: redis delete %s: %w", key, err)
	}
	keys := append(below, key)
	_, err = r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, r.valueKey(k))
			p.ZRem(ctx, r.indexKey(), k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("acme: redis delete %s: %w", key, err)
	}
	return nil
}

// Exists reports whether key is a file or a directory.
func (r *RedisStorage) Exists(ctx context.Context, key string) bool {
	n, err := r.rdb.Exists(ctx, r.valueKey(key)).Result()
	if err == nil && n > 0 {
		return true
	}
	below, err := r.under(ctx, key, 1)
	return err == nil && len(below) > 0
}

// List returns the keys below dir: with recursive, every file and
// directory at any depth; without, the files and directories directly
// in it. A dir with nothing below it gives fs.ErrNotExist.
func (r *RedisStorage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	files, err := r.under(ctx, dir, 0)
	if err != nil {
		return nil, fmt.Errorf("acme: redis list %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fs.ErrNotExist
	}
	base := ""
	if dir != "" {
		base = dir + "/"
	}
	seen := make(map[string]struct{})
	var out []string
	add := func(k string) {
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			out = append(out, k)
		}
	}
	for _, f := range files {
		rest := strings.TrimPrefix(f, base)
		parts := strings.Split(rest, "/")
		if !recursive {
			add(base + parts[0])
			continue
		}
		for i := range parts {
			add(base + strings.Join(parts[:i+1], "/"))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Stat describes key: a file with its size and modification time, or a
// directory; fs.ErrNotExist when it is neither.
func (r *RedisStorage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	vals, err := r.rdb.HMGet(ctx, r.valueKey(key), "v", "m").Result()
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("acme: redis stat %s: %w", key, err)
	}
	if v, ok := vals[0].(string); ok {
		info := certmagic.KeyInfo{Key: key, Size: int64(len(v)), IsTerminal: true}
		if m, ok := vals[1].(string); ok {
			if ms, err := strconv.ParseInt(m, 10, 64); err == nil {
				info.Modified = time.UnixMilli(ms)
			}
		}
		return info, nil
	}
	below, err := r.under(ctx, key, 1)
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("acme: redis stat %s: %w", key, err)
	}
	if len(below) == 0 {
		return certmagic.KeyInfo{}, fs.ErrNotExist
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}

// Lock takes the named lock, waiting (polling every LockPollInterval)
// while another holder has it, until ctx ends.
func (r *RedisStorage) Lock(ctx context.Context, name string) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("acme: waiting for lock %s: %w", name, ctx.Err())
		case <-t.C:
		}
		ok, err := r.TryLock(ctx, name)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		t.Reset(r.poll)
	}
}

// unlockScript deletes a lock only when it holds the caller's token.
var unlockScript = redis.NewScript(`
if redis.call("get", KEYS[1]) == ARGV[1] then
	return redis.call("del", KEYS[1])
end
return 0`)

// renewScript extends a lock only when it holds the caller's token.
var renewScript = redis.NewScript(`
if redis.call("get", KEYS[1]) == ARGV[1] then
	return redis.call("pexpire", KEYS[1], ARGV[2])
end
return 0`)

// TryLock takes the named lock if nobody holds it, and reports whether
// it did.
func (r *RedisStorage) TryLock(ctx context.Context, name string) (bool, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return false, err
	}
	token := hex.EncodeToString(raw[:])
	ok, err := r.rdb.SetNX(ctx, r.lockKey(name), token, r.ttl).Result()
	if err != nil {
		return false, fmt.Errorf("acme: redis lock %s: %w", name, err)
	}
	if !ok {
		return false, nil
	}
	h := &heldLock{token: token, stop: make(chan struct{}), done: make(chan struct{})}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		_ = unlockScript.Run(ctx, r.rdb, []string{r.lockKey(name)}, token).Err()
		return false, errors.New("acme: redis storage closed")
	}
	r.held[name] = h
	r.renewals.Add(1)
	r.mu.Unlock()
	go r.renew(name, h)
	return true, nil
}

// renew extends a held lock every third of its TTL until it is released.
func (r *RedisStorage) renew(name string, h *heldLock) {
	defer r.renewals.Done()
	defer close(h.done)
	t := time.NewTicker(r.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.ttl/3)
		n, err := renewScript.Run(ctx, r.rdb, []string{r.lockKey(name)}, h.token, r.ttl.Milliseconds()).Int()
		cancel()
		switch {
		case err != nil:
			r.log.Warn("acme: renewing a storage lock failed; retrying", "lock", name, "error", err)
		case n == 0:
			r.log.Warn("acme: a storage lock expired while held; another gateway may take it", "lock", name)
			return
		}
	}
}

// Unlock releases a lock this storage holds.
func (r *RedisStorage) Unlock(ctx context.Context, name string) error {
	r.mu.Lock()
	h, ok := r.held[name]
	delete(r.held, name)
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotLocked, name)
	}
	close(h.stop)
	<-h.done
	if err := unlockScript.Run(ctx, r.rdb, []string{r.lockKey(name)}, h.token).Err(); err != nil {
		return fmt.Errorf("acme: redis unlock %s: %w", name, err)
	}
	return nil
}

// RenewLockLease extends a lock this storage holds to leaseDuration from
// now.
func (r *RedisStorage) RenewLockLease(ctx context.Context, name string, leaseDuration time.Duration) error {
	r.mu.Lock()
	h, ok := r.held[name]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotLocked, name)
	}
	n, err := renewScript.Run(ctx, r.rdb, []string{r.lockKey(name)}, h.token, leaseDuration.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("acme: redis renew lock %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s expired", ErrNotLocked, name)
	}
	return nil
}

// Close stops renewing the locks this storage holds; they expire after
// LockTTL. It does not close the Redis client, which is the caller's.
func (r *RedisStorage) Close() error {
	r.mu.Lock()
	r.closed = true
	for name, h := range r.held {
		close(h.stop)
		delete(r.held, name)
	}
	r.mu.Unlock()
	r.renewals.Wait()
	return nil
}

// String names the storage in certmagic's logs.
func (r *RedisStorage) String() string { return "redis:" + r.tag }
