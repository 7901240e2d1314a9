package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// What a Redis limiter does with a request while Redis cannot answer.
const (
	OnErrorLocal = "local" // decide with a local bucket of Rate/Instances (the default)
	OnErrorAllow = "allow" // let every request pass
	OnErrorDeny  = "deny"  // refuse every request
)

// Defaults of RedisSettings.
const (
	DefaultRedisTimeout  = 50 * time.Millisecond
	DefaultRetryInterval = time.Second
)

// gcraScript is one decision in Redis. KEYS[1] holds the key's TAT in
// microseconds of the Redis server's clock (so gateway clocks need not
// agree), and expires when the bucket is full again. ARGV[1] is the
// interval between tokens and ARGV[2] the bucket depth, both in
// microseconds. It returns {allowed (0|1), reset, retry after}, the last
// two in microseconds.
var gcraScript = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local interval = tonumber(ARGV[1])
local depth = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local next = tat + interval
local wait = next - now - depth
if wait > 0 then
  return {0, math.ceil(tat - now), math.ceil(wait)}
end
redis.call('SET', KEYS[1], string.format('%.3f', next), 'PX', math.ceil((next - now) / 1000))
return {1, math.ceil(next - now), 0}
`)

// RedisSettings configures a Redis limiter. Every zero value has a
// meaning except Client, Rate and (when Prefix must differ per route)
// Prefix.
type RedisSettings struct {
	// Client reaches the Redis shared by all gateway instances; required.
	// It is the caller's: the limiter never closes it. For Timeout to
	// bound every call the client must honour context deadlines; build
	// it from ClientOptions (or set ContextTimeoutEnabled yourself).
	Client redis.UniversalClient
	// Prefix is put before every key in Redis, e.g. "gw:rl:users:"; it
	// keeps routes (and anything else in that Redis) apart. "" is allowed.
	Prefix string
	// Rate (requests per second) and Burst are the limit across all
	// instances together, as for LocalSettings (Burst 0: one second's
	// worth).
	Rate  float64
	Burst int
	// Timeout bounds one decision in Redis; 0 means DefaultRedisTimeout.
	Timeout time.Duration
	// OnError is what happens while Redis cannot answer: OnErrorLocal
	// (""), OnErrorAllow or OnErrorDeny.
	OnError string
	// Instances is the number of gateway instances sharing the limit,
	// used for the local fallback (Rate/Instances and Burst/Instances
	// rounded up, at least 1) while Count does not know better; 0 means 1.
	Instances int
	// Count, if set, returns the live number of gateway instances sharing
	// the limit (from a registry the instances register in), or 0 (or
	// less) while that is unknown. The local fallback takes its share
	// from it, and follows it as instances join and leave; while it is
	// unknown, Instances applies. It is called on the request's goroutine
	// while Redis is down: it must be cheap and must not block (an atomic
	// load). Nil means Instances always.
	Count func() int
	// MaxKeys and IdleTTL configure the local fallback as for
	// LocalSettings (0: their defaults).
	MaxKeys int
	IdleTTL time.Duration
	// RetryInterval is how often, while Redis is down, one request tries
	// it again (the others go straight to OnError); 0 means
	// DefaultRetryInterval.
	RetryInterval time.Duration
	// OnStateChange, if set, is called once for each transition between
	// reachable (up) and not (down, with the error that showed it), in
	// order, never concurrently, on the request's goroutine: log there.
	// It must not block.
	OnStateChange func(up bool, err error)
}

// Redis is a limiter shared by every gateway instance through one Redis:
// each decision is one atomic script call (the token bucket of Local,
// kept in Redis as GCRA) on the key Prefix+key, in one round trip (two the first time
// after Redis lost its script cache: EVALSHA, then EVAL).
//
// The now argument of Allow drives only the local fallback and the retry
// schedule while Redis is down: in Redis the Redis server's clock decides.
// Redis is safe for concurrent use and starts no goroutine.
type Redis struct {
	client    redis.UniversalClient
	prefix    string
	args      []any // interval and depth in microseconds
	b         bucket
	timeout   time.Duration
	retry     int64 // RetryInterval in nanoseconds
	onError   string
	fallback  atomic.Pointer[share] // the local fallback of OnErrorLocal
	count     func() int
	instances int           // Instances, at least 1
	local     LocalSettings // the fallback's settings before the share
	epoch     time.Time

	up        atomic.Bool
	nextProbe atomic.Int64 // nanoseconds since epoch: when down, the next try
	fallbacks atomic.Uint64
	errs      atomic.Uint64
	outages   atomic.Uint64

	mu     sync.Mutex // serialises state changes and their callbacks
	notify func(up bool, err error)
}

// RedisStats counts what a Redis limiter did without Redis.
type RedisStats struct {
	Fallbacks uint64 // decisions made by OnError instead of Redis
	Errors    uint64 // calls to Redis that failed or timed out
	Outages   uint64 // transitions from up to down
}

// NewRedis returns a Redis limiter for s. It does no I/O: it starts out
// up, and the first call finds out.
func NewRedis(s RedisSettings) (*Redis, error) {
	if s.Client == nil {
		return nil, errors.New("ratelimit: redis limiter needs a client")
	}
	b, err := newBucket(s.Rate, s.Burst)
	if err != nil {
		return nil, err
	}
	if s.Timeout < 0 || s.RetryInterval < 0 || s.Instances < 0 {
		return nil, errors.New("ratelimit: redis timeout, retry interval and instances must be >= 0")
	}
	onError := s.OnError
	switch onError {
	case "":
		onError = OnErrorLocal
	case OnErrorLocal, OnErrorAllow, OnErrorDeny:
	default:
		return nil, fmt.Errorf("ratelimit: on_redis_error %q: must be allow, deny or local", s.OnError)
	}
	r := &Redis{
		client:  s.Client,
		prefix:  s.Prefix,
		b:       b,
		timeout: orDefault(s.Timeout, DefaultRedisTimeout),
		retry:   int64(orDefault(s.RetryInterval, DefaultRetryInterval)),
		onError: onError,
		epoch:   time.Now(),
		notify:  s.OnStateChange,
		args: []any{
			strconv.FormatFloat(float64(b.interval)/1e3, 'f', -1, 64),
			strconv.FormatFloat(float64(b.depth)/1e3, 'f', -1, 64),
		},
	}
	r.up.Store(true)
	if onError == OnErrorLocal {
		r.count, r.instances = s.Count, max(1, s.Instances)
		r.local = LocalSettings{Rate: s.Rate, Burst: b.burst, MaxKeys: s.MaxKeys, IdleTTL: s.IdleTTL}
		f, err := r.newShare(r.instances)
		if err != nil {
			return nil, fmt.Errorf("ratelimit: local fallback: %w", err)
		}
		r.fallback.Store(f)
	}
	return r, nil
}

// share is the local fallback for a number of instances: a Local of
// Rate/instances and Burst/instances (rounded up).
type share struct {
	instances int // as configured (Instances) or counted (Count)
	counted   bool
	l         *Local
}

func (r *Redis) newShare(n int) (*share, error) {
	l, err := NewLocal(LocalSettings{
		Rate:    r.local.Rate / float64(n),
		Burst:   int(math.Ceil(float64(r.local.Burst) / float64(n))),
		MaxKeys: r.local.MaxKeys,
		IdleTTL: r.local.IdleTTL,
	})
	if err != nil {
		return nil, err
	}
	return &share{instances: n, l: l}, nil
}

// localShare returns the local fallback for the instance count now: the
// one in use while the count is unchanged, else a new one (its buckets
// start full) for the new count. Without a known count the configured
// Instances apply.
func (r *Redis) localShare() *share {
	cur := r.fallback.Load()
	if r.count == nil {
		return cur
	}
	n, counted := r.count(), true
	if n <= 0 {
		n, counted = r.instances, false
	}
	if n == cur.instances && counted == cur.counted {
		return cur
	}
	next := &share{instances: n, counted: counted, l: cur.l}
	if n != cur.instances {
		f, err := r.newShare(n)
		if err != nil { // a share below the lowest rate: keep the one in use
			return cur
		}
		next.l = f.l
	}
	if r.fallback.CompareAndSwap(cur, next) {
		return next
	}
	return r.fallback.Load()
}

// FallbackInstances returns the number of instances the local fallback
// divides the limit by now, and whether it is a live count (Count) rather
// than the configured Instances. 0 when OnError is not OnErrorLocal.
func (r *Redis) FallbackInstances() (n int, counted bool) {
	if r.onError != OnErrorLocal {
		return 0, false
	}
	f := r.localShare()
	return f.instances, f.counted
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// ClientOptions returns go-redis options suited to a limiter reaching addr
// with the given per-decision timeout: context deadlines honoured, dial,
// read, write and pool waits bounded by timeout, one immediate retry on a
// broken pooled connection and no dial retries. Adjust the pool size,
// credentials or TLS before redis.NewClient.
func ClientOptions(addr string, timeout time.Duration) *redis.Options {
	timeout = orDefault(timeout, DefaultRedisTimeout)
	return &redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		DialTimeout:           timeout,
		DialerRetries:         1,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		PoolTimeout:           timeout,
		MaxRetries:            1,
		MinRetryBackoff:       -1,
		MaxRetryBackoff:       -1,
	}
}

// Allow decides for key in Redis, or by OnError while Redis is down.
// It allocates (the Redis client does), and blocks at most Timeout.
//
// While Redis is down, one request per RetryInterval (of now) tries it
// again; only such a probe brings the state back up, and only a failure
// of a request that started after the last recovery brings it down, so
// requests in flight across a transition do not make it flap.
func (r *Redis) Allow(key []byte, now time.Time) Decision {
	gen := r.outages.Load()
	probe := false
	if !r.up.Load() {
		t := int64(now.Sub(r.epoch))
		p := r.nextProbe.Load()
		if t < p || !r.nextProbe.CompareAndSwap(p, t+r.retry) {
			return r.decideWithout(key, now)
		}
		probe = true
	}
	d, err := r.call(key)
	if err != nil {
		r.errs.Add(1)
		r.setDown(gen, now, err)
		return r.decideWithout(key, now)
	}
	if probe {
		r.setUp()
	}
	return d
}

// Healthy reports whether the last call to Redis succeeded.
func (r *Redis) Healthy() bool { return r.up.Load() }

// Stats returns the counters since NewRedis, for metrics.
func (r *Redis) Stats() RedisStats {
	return RedisStats{Fallbacks: r.fallbacks.Load(), Errors: r.errs.Load(), Outages: r.outages.Load()}
}

func (r *Redis) call(key []byte) (Decision, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	res, err := gcraScript.Run(ctx, r.client, []string{r.prefix + string(key)}, r.args...).Int64Slice()
	if err != nil {
		return Decision{}, err
	}
	if len(res) != 3 {
		return Decision{}, fmt.Errorf("ratelimit: redis script returned %d values, want 3", len(res))
	}
	d := Decision{
		Allowed:    res[0] == 1,
		Limit:      r.b.burst,
		Reset:      time.Duration(res[1]) * time.Microsecond,
		RetryAfter: time.Duration(res[2]) * time.Microsecond,
	}
	if d.Allowed {
		d.Remaining = max(0, int((r.b.depth-int64(d.Reset))/r.b.interval))
	}
	return d, nil
}

func (r *Redis) decideWithout(key []byte, now time.Time) Decision {
	r.fallbacks.Add(1)
	switch r.onError {
	case OnErrorAllow:
		return Decision{Allowed: true, Limit: r.b.burst, Remaining: r.b.burst}
	case OnErrorDeny:
		return Decision{Limit: r.b.burst, RetryAfter: time.Duration(r.retry), Reset: time.Duration(r.retry)}
	}
	return r.localShare().l.Allow(key, now)
}

// setDown records an outage, unless one began after the failed request
// did (it belongs to that one) or Redis is already down.
func (r *Redis) setDown(gen uint64, now time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.up.Load() || r.outages.Load() != gen {
		return
	}
	r.nextProbe.Store(int64(now.Sub(r.epoch)) + r.retry)
	r.up.Store(false)
	r.outages.Add(1)
	if r.notify != nil {
		r.notify(false, err)
	}
}

// setUp records that a probe reached Redis.
func (r *Redis) setUp() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.up.Load() {
		return
	}
	r.up.Store(true)
	if r.notify != nil {
		r.notify(true, nil)
	}
}
