package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/internal/httpx"
	"github.com/fastgate/gateway/ratelimit"
)

// routeLimit is a route's compiled rate limit.
type routeLimit struct {
	limiter ratelimit.Limiter
	// local is limiter when it is a local one (called without an
	// interface, which would move the key to the heap).
	local   *ratelimit.Local
	headers *ratelimit.Headers
	// always sends the headers on admitted answers too.
	always bool
	// key picks the bucket a request takes from.
	key keyKind
	// name is the header or query parameter name of header: and query:.
	name string
	// claim is the index of claim:NAME's claim in the caller's token.
	claim int
	// shared is the bucket's registry key when routes share it; "" else.
	shared string
}

type keyKind uint8

const (
	keyRoute keyKind = iota
	keyClientIP
	keyHeader
	keyQuery
	keyConsumer
	keyClaim
)

// limiters holds the buckets that several routes share by name, counting
// the routes that use each. Not on the request path.
type limiters struct {
	mu     sync.Mutex
	shared map[string]*sharedLimiter
}

type sharedLimiter struct {
	l    ratelimit.Limiter
	refs int
}

// scratchPool holds the buffers rate-limit header values are built in.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 128); return &b }}

// newRouteLimit compiles rc's rate limit. Local limits of the route's own
// are new; a named bucket comes from the registry, created by the first
// route that names it.
func (d *deps) newRouteLimit(rc *config.Route, redisClient redis.UniversalClient, claim int) (*routeLimit, error) {
	ls := &d.limiters
	c := rc.RateLimit
	rl := &routeLimit{always: c.Headers}
	switch {
	case c.Per == config.PerRoute:
		rl.key = keyRoute
	case c.Per == config.PerClientIP:
		rl.key = keyClientIP
	case strings.HasPrefix(c.Per, config.PerHeader):
		rl.key, rl.name = keyHeader, strings.TrimPrefix(c.Per, config.PerHeader)
	case strings.HasPrefix(c.Per, config.PerQuery):
		rl.key, rl.name = keyQuery, strings.TrimPrefix(c.Per, config.PerQuery)
	case c.Per == config.PerConsumer:
		rl.key = keyConsumer
	case strings.HasPrefix(c.Per, config.PerClaim):
		rl.key, rl.claim = keyClaim, claim
	}
	policy := rc.Name
	if c.Bucket != "" {
		policy = c.Bucket
	}
	h, err := ratelimit.NewHeaders(ratelimit.HeaderSettings{
		Policy: policy, Rate: float64(c.Rate), Burst: c.Burst, Draft: true, Legacy: c.LegacyHeaders,
	})
	if err != nil {
		return nil, err
	}
	rl.headers = h
	build := func() (ratelimit.Limiter, error) {
		if c.Scope == config.ScopeCluster {
			if redisClient == nil {
				return nil, fmt.Errorf("scope cluster: no redis client")
			}
			log := d.log.With("route", rc.Name, "bucket", c.Bucket, "on_redis_error", c.OnRedisError)
			m := d.metrics.Route(rc.Name)
			lim, err := ratelimit.NewRedis(ratelimit.RedisSettings{
				Client:    redisClient,
				Prefix:    "gateway:rl:" + policy + ":",
				Rate:      float64(c.Rate),
				Burst:     c.Burst,
				OnError:   c.OnRedisError,
				Instances: c.Instances,
				Count:     d.instances,
				MaxKeys:   c.MaxKeys,
				OnStateChange: func(up bool, err error) {
					m.RedisState(up)
					if up {
						log.Info("rate limit: Redis reachable again, limits are shared again")
						return
					}
					log.Warn("rate limit: Redis unreachable, following on_redis_error", "error", err)
				},
			})
			if err != nil {
				return nil, err
			}
			m.SetRateLimitFallbacks(func() uint64 { return lim.Stats().Fallbacks })
			return lim, nil
		}
		d.metrics.Route(rc.Name).SetRateLimitFallbacks(nil)
		return ratelimit.NewLocal(ratelimit.LocalSettings{Rate: float64(c.Rate), Burst: c.Burst, MaxKeys: c.MaxKeys})
	}
	if c.Bucket == "" {
		rl.limiter, err = build()
		rl.local, _ = rl.limiter.(*ratelimit.Local)
		return rl, err
	}
	defer func() { rl.local, _ = rl.limiter.(*ratelimit.Local) }()
	key, _ := json.Marshal(c)
	rl.shared = string(key)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if sl := ls.shared[rl.shared]; sl != nil {
		sl.refs++
		rl.limiter = sl.l
		return rl, nil
	}
	if rl.limiter, err = build(); err != nil {
		return nil, err
	}
	if ls.shared == nil {
		ls.shared = make(map[string]*sharedLimiter)
	}
	ls.shared[rl.shared] = &sharedLimiter{l: rl.limiter, refs: 1}
	return rl, nil
}

// release gives back a route's use of a shared bucket.
func (ls *limiters) release(rl *routeLimit) {
	if rl == nil || rl.shared == "" {
		return
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if sl := ls.shared[rl.shared]; sl != nil {
		if sl.refs--; sl.refs <= 0 {
			delete(ls.shared, rl.shared)
		}
	}
}

// errRateLimited is the answer of a request over the route's limit.
var errRateLimited = &answer{status: fasthttp.StatusTooManyRequests, msg: "rate limit exceeded", source: "rate_limit", keepHeaders: true}

// rateLimitStep answers 429 to a request over the route's limit before
// anything else is spent on it, with the RateLimit headers of its bucket;
// an admitted request is passed on.
type rateLimitStep struct {
	rt       *route
	limit    *routeLimit
	trusted  *httpx.TrustedProxies
	limiters *limiters
	next     handler
}

func buildRateLimitStep(b *routeBuild) (step, error) {
	rc := b.rc
	if rc.RateLimit == nil {
		return nil, nil
	}
	var client redis.UniversalClient
	if rc.RateLimit.Scope == config.ScopeCluster {
		var err error
		if client, err = b.d.redisFor(b.cfg.Redis); err != nil {
			return nil, err
		}
	}
	rl, err := b.d.newRouteLimit(rc, client, b.rateClaim)
	if err != nil {
		return nil, err
	}
	return &rateLimitStep{rt: b.rt, limit: rl, trusted: b.trusted, limiters: &b.d.limiters}, nil
}

func (s *rateLimitStep) wrap(next handler) handler {
	s.next = next
	return s.serve
}

// close gives back the route's use of a shared bucket.
func (s *rateLimitStep) close() { s.limiters.release(s.limit) }

func (s *rateLimitStep) serve(ctx *fasthttp.RequestCtx) error {
	if s.limit.always {
		return s.serveWithHeaders(ctx)
	}
	if !s.admit(ctx) {
		return errRateLimited
	}
	return s.next(ctx)
}

// admit takes a token for ctx's request, or refuses it. Not inlined: the
// decision stays out of serve's frame, which is on the stack while the
// request is forwarded.
//
//go:noinline
func (s *rateLimitStep) admit(ctx *fasthttp.RequestCtx) bool {
	d := s.limit.decide(ctx, s.trusted)
	if !d.Allowed {
		s.refuse(ctx, d)
	}
	return d.Allowed
}

// refuse counts a refusal and writes its headers.
func (s *rateLimitStep) refuse(ctx *fasthttp.RequestCtx, d ratelimit.Decision) {
	s.rt.metrics.RateLimited()
	s.limit.writeHeaders(&ctx.Response.Header, d)
}

// serveWithHeaders is serve for a route whose answers all carry the
// rate limit headers (rate_limit.headers: always).
//
//go:noinline
func (s *rateLimitStep) serveWithHeaders(ctx *fasthttp.RequestCtx) error {
	d := s.limit.decide(ctx, s.trusted)
	if !d.Allowed {
		s.refuse(ctx, d)
		return errRateLimited
	}
	if err := s.next(ctx); err != nil {
		return err
	}
	s.limit.writeHeaders(&ctx.Response.Header, d)
	return nil
}

// decide takes a token for ctx's request. The local limiter is called
// directly, so that the key built on the stack stays there.
func (rl *routeLimit) decide(ctx *fasthttp.RequestCtx, trusted *httpx.TrustedProxies) ratelimit.Decision {
	if rl.local != nil {
		var ip [16]byte
		key := rl.keyOf(ctx, trusted, &ip)
		if !rl.always && rl.local.Admit(key, ctx.Time()) {
			return ratelimit.Decision{Allowed: true}
		}
		// Headers wanted, or refused: describe the bucket (at the same
		// instant a refusal stays a refusal).
		return rl.local.Allow(key, ctx.Time())
	}
	var ip [16]byte
	return rl.limiter.Allow(rl.keyOf(ctx, trusted, &ip), ctx.Time())
}

// keyOf returns the bucket key of ctx's request, borrowed from the
// request or built in ip.
func (rl *routeLimit) keyOf(ctx *fasthttp.RequestCtx, trusted *httpx.TrustedProxies, ip *[16]byte) []byte {
	switch rl.key {
	case keyClientIP:
		*ip = httpx.ClientAddr(ctx, trusted).As16()
		return ip[:]
	case keyHeader:
		return ctx.Request.Header.Peek(rl.name)
	case keyQuery:
		return ctx.QueryArgs().Peek(rl.name)
	case keyConsumer:
		// The caller the access step admitted (the step's build
		// ensured there is one).
		return bytesOf(callerName(ctx))
	case keyClaim:
		return bytesOf(callerClaim(ctx, rl.claim))
	}
	return nil
}

func (rl *routeLimit) writeHeaders(h *fasthttp.ResponseHeader, d ratelimit.Decision) {
	buf := scratchPool.Get().(*[]byte)
	// SetCanonical keeps the names as the draft spells them (RateLimit,
	// not the Ratelimit that header-name normalization would make).
	*buf = rl.headers.Write(h.SetCanonical, d, (*buf)[:0])
	scratchPool.Put(buf)
}

// redisFor returns the client of the Redis that cluster limits share,
// connecting on first use. The client lives as long as the gateway; a
// reload that changes the redis settings takes effect on restart.
func (d *deps) redisFor(c *config.Redis) (redis.UniversalClient, error) {
	if c == nil {
		return nil, fmt.Errorf("no redis configured")
	}
	d.redisMu.Lock()
	defer d.redisMu.Unlock()
	if d.redis != nil {
		return d.redis, nil
	}
	opts := ratelimit.ClientOptions(c.Address, c.Timeout)
	opts.Username, opts.Password, opts.DB = c.Username, c.Password, c.DB
	if c.PoolSize > 0 {
		opts.PoolSize = c.PoolSize
	}
	d.redis = redis.NewClient(opts)
	d.redisCfg = *c
	return d.redis, nil
}
