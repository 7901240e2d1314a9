package ratelimit

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys is the number of keys a Local keeps when
// LocalSettings.MaxKeys is 0.
const DefaultMaxKeys = 100_000

// DefaultIdleTTL is LocalSettings.IdleTTL when it is 0.
const DefaultIdleTTL = 10 * time.Minute

const (
	maxShards     = 64
	minShardKeys  = 256 // keys per shard below which fewer shards are used
	expiryPerCall = 2   // idle entries checked per Allow
	none          = -1  // no entry (list ends, empty free list)
)

// LocalSettings configures a Local. Every zero value has a meaning.
type LocalSettings struct {
	// Rate is the refill rate in requests per second (see ParseRate);
	// required, > 0 and <= MaxRate.
	Rate float64
	// Burst is the bucket size: how many requests a key may send at once.
	// 0 means the requests of one second, Rate rounded up, at least 1.
	Burst int
	// MaxKeys caps the number of keys held; 0 means DefaultMaxKeys. When a
	// new key arrives at the cap, the least recently used key of its shard
	// is forgotten (see the package doc on memory).
	MaxKeys int
	// IdleTTL is how long a key's bucket must have been full before the
	// key is forgotten; 0 means DefaultIdleTTL. A full bucket is what a
	// new key gets, so forgetting it changes no decision.
	IdleTTL time.Duration
}

// Local is a set of token buckets, one golang.org/x/time/rate Limiter per
// key, held in this process.
//
// It is safe for concurrent use: keys are spread over up to 64 shards by a
// hash, each with its own mutex held for the length of one map lookup and
// one decision of the key's Limiter. It starts no goroutine: idle keys are
// removed lazily by the calls that touch their shard, so it needs no Close.
type Local struct {
	limit      rate.Limit
	burst      int
	nsPerToken float64 // nanoseconds the bucket takes to gain one token
	slack      float64 // tokens gained in a thousandth of a nanosecond
	idle       int64   // IdleTTL in nanoseconds
	seed       maphash.Seed
	mask       uint64
	epoch      time.Time // full is kept as nanoseconds since epoch
	shards     []shard
}

// entry is one key's bucket, linked into its shard's LRU list.
type entry struct {
	key        string
	lim        *rate.Limiter
	full       int64 // when lim is full again, nanoseconds since epoch; for expiry only
	last       int64 // the latest now a call brought, nanoseconds since epoch
	prev, next int32 // LRU neighbours: prev is more recent; free list uses next
}

type shard struct {
	mu      sync.Mutex
	m       map[string]int32 // key -> index in slab
	slab    []entry
	head    int32 // most recently used
	tail    int32 // least recently used
	free    int32 // first reusable slab slot
	n       int32 // keys held
	max     int32
	evicted uint64
	_       [64]byte // keep shards on separate cache lines
}

// NewLocal returns a Local for s, or an error naming the invalid setting.
func NewLocal(s LocalSettings) (*Local, error) {
	b, err := newBucket(s.Rate, s.Burst)
	if err != nil {
		return nil, err
	}
	if s.MaxKeys < 0 {
		return nil, fmt.Errorf("ratelimit: max keys must be >= 0 (got %d)", s.MaxKeys)
	}
	if s.IdleTTL < 0 {
		return nil, errors.New("ratelimit: idle TTL must be >= 0")
	}
	maxKeys := s.MaxKeys
	if maxKeys == 0 {
		maxKeys = DefaultMaxKeys
	}
	if maxKeys > 1<<30 {
		return nil, fmt.Errorf("ratelimit: max keys must be <= %d (got %d)", 1<<30, maxKeys)
	}
	idle := s.IdleTTL
	if idle == 0 {
		idle = DefaultIdleTTL
	}
	n := maxShards
	for n > 1 && maxKeys/n < minShardKeys {
		n /= 2
	}
	l := &Local{
		limit:      rate.Limit(s.Rate),
		burst:      b.burst,
		nsPerToken: 1e9 / s.Rate,
		slack:      1e-3 * s.Rate / 1e9,
		idle:       int64(idle),
		seed:       maphash.MakeSeed(),
		mask:       uint64(n - 1),
		epoch:      time.Now(),
		shards:     make([]shard, n),
	}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.m = make(map[string]int32)
		sh.head, sh.tail, sh.free = none, none, none
		sh.max = int32(maxKeys / n)
	}
	return l, nil
}

// Allow takes a token from key's bucket if it has one. It does not keep
// key (a new key is copied) and allocates only when the key is new.
func (l *Local) Allow(key []byte, now time.Time) Decision {
	t := int64(now.Sub(l.epoch))
	sh, e := l.lock(key, t)
	now, t = e.monotonic(l.epoch, now, t)
	allowed := e.lim.AllowN(now, 1)
	d := l.decision(allowed, e.lim.TokensAt(now))
	e.full = t + int64(d.Reset)
	sh.expire(t, l.idle)
	sh.mu.Unlock()
	return d
}

// Admit takes a token for key at now and reports whether there was one,
// like Allow without describing the bucket: the cheaper call for a route
// that sends no rate-limit headers on admitted answers. After a refusal,
// Allow with the same now describes it (and, at the same now, refuses
// again).
func (l *Local) Admit(key []byte, now time.Time) bool {
	t := int64(now.Sub(l.epoch))
	sh, e := l.lock(key, t)
	now, t = e.monotonic(l.epoch, now, t)
	allowed := e.lim.AllowN(now, 1)
	if allowed {
		// A token taken moves "full again" one token's time later, from
		// now if the bucket was full (the GCRA view of the same bucket).
		e.full = max(e.full, t) + int64(math.Ceil(l.nsPerToken))
	}
	sh.expire(t, l.idle)
	sh.mu.Unlock()
	return allowed
}

// monotonic keeps an entry's time from going back. Requests reach a
// bucket out of order (each brings the time it arrived, and goroutines
// interleave), and rate.Limiter credits the same interval again when a
// call brings an earlier time than the one before: such a call is taken
// at the latest time the bucket has seen.
func (e *entry) monotonic(epoch, now time.Time, t int64) (time.Time, int64) {
	if t < e.last {
		return epoch.Add(time.Duration(e.last)), e.last
	}
	e.last = t
	return now, t
}

// lock finds key's entry, creating it (with a full bucket) when new, and
// returns it with its shard locked; the caller unlocks. t is now, in
// nanoseconds since the epoch.
func (l *Local) lock(key []byte, t int64) (*shard, *entry) {
	sh := &l.shards[0]
	if l.mask != 0 {
		sh = &l.shards[maphash.Bytes(l.seed, key)&l.mask]
	}
	sh.mu.Lock()
	i, ok := sh.m[string(key)]
	if ok {
		sh.touch(i)
	} else {
		i = sh.insert(key, rate.NewLimiter(l.limit, l.burst))
		sh.slab[i].full = t
		sh.slab[i].last = t
	}
	return sh, &sh.slab[i]
}

// decision describes a bucket holding tokens (as TokensAt reports them)
// right after a request that was allowed, and took one, or not.
//
// The token count is a float64, so a bucket that holds exactly 3 tokens
// may report 2.9999999999: what less than a thousandth of a nanosecond
// would add is taken as there, which puts Remaining, RetryAfter and Reset
// on the exact nanosecond. The Limiter itself lets a request pass when
// less than a whole nanosecond's worth is missing, so Remaining never
// promises a request it would refuse.
func (l *Local) decision(allowed bool, tokens float64) Decision {
	d := Decision{Allowed: allowed, Limit: l.burst, Reset: l.timeFor(float64(l.burst) - tokens)}
	if allowed {
		// max: the Limiter's leeway can leave tokens a hair below 0.
		d.Remaining = max(0, int(tokens+l.slack))
	} else {
		d.RetryAfter = max(1, l.timeFor(1-tokens))
	}
	return d
}

// timeFor returns how long the bucket takes to gain tokens, rounded up to
// a nanosecond (see decision for the thousandth left out).
func (l *Local) timeFor(tokens float64) time.Duration {
	ns := math.Ceil(tokens*l.nsPerToken - 1e-3)
	if ns <= 0 {
		return 0
	}
	return time.Duration(ns) // at most Burst tokens: below 2^60 ns (newBucket)
}

// Len returns the number of keys held, idle ones not yet removed included.
func (l *Local) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += int(sh.n)
		sh.mu.Unlock()
	}
	return n
}

// Evicted returns how many keys were forgotten because the key cap was
// reached (not counting idle keys removed after IdleTTL). A steadily
// growing count means more distinct keys than MaxKeys are active, e.g. an
// attacker cycling addresses.
func (l *Local) Evicted() uint64 {
	var n uint64
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += sh.evicted
		sh.mu.Unlock()
	}
	return n
}

// insert adds key with the new bucket lim, evicting the least recently
// used key when the shard is at its cap, and returns its slot.
func (sh *shard) insert(key []byte, lim *rate.Limiter) int32 {
	if sh.n >= sh.max {
		sh.remove(sh.tail)
		sh.evicted++
	}
	var i int32
	if sh.free != none {
		i = sh.free
		sh.free = sh.slab[i].next
	} else {
		sh.slab = append(sh.slab, entry{})
		i = int32(len(sh.slab) - 1)
	}
	k := string(key)
	sh.slab[i] = entry{key: k, lim: lim, prev: none, next: sh.head}
	sh.m[k] = i
	sh.link(i)
	sh.n++
	return i
}

// link puts slot i, already filled, at the head of the LRU list.
func (sh *shard) link(i int32) {
	e := &sh.slab[i]
	e.prev, e.next = none, sh.head
	if sh.head != none {
		sh.slab[sh.head].prev = i
	}
	sh.head = i
	if sh.tail == none {
		sh.tail = i
	}
}

// unlink takes slot i out of the LRU list.
func (sh *shard) unlink(i int32) {
	e := &sh.slab[i]
	if e.prev != none {
		sh.slab[e.prev].next = e.next
	} else {
		sh.head = e.next
	}
	if e.next != none {
		sh.slab[e.next].prev = e.prev
	} else {
		sh.tail = e.prev
	}
}

// touch marks slot i as the most recently used.
func (sh *shard) touch(i int32) {
	if sh.head == i {
		return
	}
	sh.unlink(i)
	sh.link(i)
}

// remove forgets the key in slot i and puts the slot on the free list.
func (sh *shard) remove(i int32) {
	sh.unlink(i)
	delete(sh.m, sh.slab[i].key)
	sh.slab[i] = entry{next: sh.free}
	sh.free = i
	sh.n--
}

// expire removes up to expiryPerCall least recently used keys whose
// bucket has been full for at least idle. The LRU order is the order of
// last requests, and a key's bucket is full at most one refill time after
// its last request, so idle keys leave within IdleTTL plus one refill time
// of their last request as long as their shard sees traffic.
func (sh *shard) expire(t, idle int64) {
	for range expiryPerCall {
		i := sh.tail
		if i == none || t-sh.slab[i].full < idle {
			return
		}
		sh.remove(i)
	}
}
