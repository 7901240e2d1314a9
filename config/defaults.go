package config

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Defaults, as the field comments in types.go state them.
const (
	defaultListen = ":8080"
	defaultAdmin  = "127.0.0.1:9901"

	defaultServerTimeout  = 60 * time.Second
	defaultDrainTimeout   = 30 * time.Second
	defaultMaxHeaderBytes = 8 << 10
	defaultMaxURILength   = 4 << 10
	defaultMaxHeaderCount = 100
	defaultMaxBodySize    = 10 << 20

	defaultBalance        = BalanceRoundRobin
	defaultTimeout        = 30 * time.Second
	defaultConnectTimeout = 5 * time.Second
	defaultIOTimeout      = 60 * time.Second
	defaultIdleTimeout    = 60 * time.Second
	defaultMaxConns       = 512
	defaultRetries        = 1
	defaultRetryBudget    = 0.2
	defaultConnWait       = 250 * time.Millisecond
	defaultBodyIdle       = 30 * time.Second
	defaultMaxFailures    = 3
	defaultCooldown       = 10 * time.Second
	defaultStatus         = 200
	defaultWeight         = 1

	defaultRedisAddress = "127.0.0.1:6379"
	defaultRedisTimeout = 50 * time.Millisecond
	defaultMaxKeys      = 100_000

	defaultWindow           = 10 * time.Second
	defaultOpenFor          = 30 * time.Second
	defaultHalfOpenRequests = 1
	defaultMaxStale         = 5 * time.Minute
	defaultMaxEntrySize     = 1 << 20
	defaultMarkerHeader     = "X-Cache"
	defaultMarkerValue      = "STALE"
	defaultFallbackStatus   = 503
	defaultCacheMaxBytes    = 64 << 20
)

// Defaults of the discovery sources.
const (
	DefaultConsulAddress = "127.0.0.1:8500"
	DefaultEtcdEndpoint  = "127.0.0.1:2379"
)

// Discovery sources, as Upstream.Discovery names them.
const (
	SourceConsul = "consul"
	SourceEtcd   = "etcd"
)

// Values of FallbackCache.Store.
const (
	StoreMemory = "memory"
	StoreRedis  = "redis"
)

// Values of RateLimit fields.
const (
	PerRoute    = "route"
	PerClientIP = "client_ip"
	PerHeader   = "header:" // followed by the header name
	PerQuery    = "query:"  // followed by the parameter name

	ScopeLocal   = "local"
	ScopeCluster = "cluster"

	OnRedisErrorLocal = "local"
	OnRedisErrorAllow = "allow"
	OnRedisErrorDeny  = "deny"
)

// Balance values of Upstream.Balance.
const (
	BalanceRoundRobin   = "round_robin"
	BalanceWeighted     = "weighted"
	BalanceLeastRequest = "least_request"
)

// AdminOff as Config.Admin disables the admin listener.
const AdminOff = "off"

// applyDefaults fills in what the file left out. set holds the paths the
// file gave a value: fields whose comment says "zero means the default"
// take the default when zero; the others only when absent, so that an
// explicit zero is reported by validation instead of silently replaced.
func applyDefaults(c *Config, set map[string]bool) {
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	if c.Admin == "" {
		c.Admin = defaultAdmin
	}
	for i, h := range c.AdminHosts {
		c.AdminHosts[i] = strings.ToLower(h)
	}
	if !set["admin_endpoints.pprof"] {
		c.AdminEndpoints.Pprof = true
	}
	if !set["admin_endpoints.reload"] {
		c.AdminEndpoints.Reload = true
	}
	s := &c.Server
	zeroDefault(&s.ReadTimeout, defaultServerTimeout)
	zeroDefault(&s.WriteTimeout, defaultServerTimeout)
	zeroDefault(&s.IdleTimeout, defaultServerTimeout)
	zeroDefault(&s.DrainTimeout, defaultDrainTimeout)
	zeroDefault(&s.MaxHeaderBytes, defaultMaxHeaderBytes)
	zeroDefault(&s.MaxURILength, defaultMaxURILength)
	zeroDefault(&s.MaxHeaderCount, defaultMaxHeaderCount)
	zeroDefault(&s.MaxBodySize, defaultMaxBodySize)

	for i := range c.Routes {
		r := &c.Routes[i]
		p := "routes[" + strconv.Itoa(i) + "]"
		zeroDefault(&r.MaxBodySize, s.MaxBodySize)
		r.Match.Host = strings.ToLower(r.Match.Host)
		for j, m := range r.Match.Methods {
			r.Match.Methods[j] = strings.ToUpper(m)
		}
		if r.Respond != nil && !set[p+".respond.status"] {
			r.Respond.Status = defaultStatus
		}
		if r.Upstream != nil {
			upstreamDefaults(r.Upstream, p+".upstream", set)
		}
		if r.GRPC != nil {
			grpcDefaults(r.GRPC)
		}
		if r.Publish != nil {
			publishDefaults(r.Publish)
		}
		if r.RateLimit != nil {
			rateLimitDefaults(r.RateLimit, p+".rate_limit", set)
		}
		if cb := r.CircuitBreaker; cb != nil {
			zeroDefault(&cb.Window, defaultWindow)
			zeroDefault(&cb.OpenFor, defaultOpenFor)
			zeroDefault(&cb.HalfOpenRequests, defaultHalfOpenRequests)
			zeroDefault(&cb.Per, BreakerPerRoute)
		}
		if r.Fallback != nil {
			fallbackDefaults(r.Fallback, p+".fallback", set)
		}
		if r.WebSocket != nil {
			webSocketDefaults(r.WebSocket)
		}
	}
	for _, b := range c.Brokers {
		if b != nil {
			brokerDefaults(b)
		}
	}
	if c.AccessLog != nil {
		accessLogDefaults(c.AccessLog)
	}
	if c.Tracing != nil {
		tracingDefaults(c.Tracing)
	}
	if c.Cache != nil {
		zeroDefault(&c.Cache.MaxBytes, defaultCacheMaxBytes)
	}
	if d := c.Discovery.Consul; d != nil {
		if d.Address == "" {
			d.Address = DefaultConsulAddress
		}
		if d.Consistency == "" {
			d.Consistency = "stale"
		}
		if !set["discovery.consul.wait_time"] {
			d.WaitTime = 5 * time.Minute
		}
	}
	if d := c.Discovery.Etcd; d != nil {
		if len(d.Endpoints) == 0 {
			d.Endpoints = []string{DefaultEtcdEndpoint}
		}
		if d.Prefix == "" {
			d.Prefix = "/services/"
		}
		if !set["discovery.etcd.dial_timeout"] {
			d.DialTimeout = 5 * time.Second
		}
	}
	if c.Redis != nil {
		if c.Redis.Address == "" {
			c.Redis.Address = defaultRedisAddress
		}
		if !set["redis.timeout"] {
			c.Redis.Timeout = defaultRedisTimeout
		}
	}
}

func fallbackDefaults(f *Fallback, p string, set map[string]bool) {
	if f.Methods == nil {
		f.Methods = []string{"GET", "HEAD"}
	}
	for j, m := range f.Methods {
		f.Methods[j] = strings.ToUpper(m)
	}
	if c := f.Cache; c != nil {
		zeroDefault(&c.MaxStale, defaultMaxStale)
		zeroDefault(&c.MaxEntrySize, defaultMaxEntrySize)
		zeroDefault(&c.MarkerHeader, defaultMarkerHeader)
		zeroDefault(&c.MarkerValue, defaultMarkerValue)
		zeroDefault(&c.Store, StoreMemory)
	}
	if f.Upstream != nil {
		upstreamDefaults(f.Upstream, p+".upstream", set)
	}
	if f.Static != nil && !set[p+".static.status"] {
		f.Static.Status = defaultFallbackStatus
	}
}

func rateLimitDefaults(rl *RateLimit, p string, set map[string]bool) {
	if !set[p+".burst"] {
		rl.Burst = max(1, int(math.Ceil(float64(rl.Rate))))
	}
	if rl.Per == "" {
		rl.Per = PerRoute
	}
	if rl.Scope == "" {
		rl.Scope = ScopeLocal
	}
	if rl.OnRedisError == "" {
		rl.OnRedisError = OnRedisErrorLocal
	}
	if !set[p+".instances"] {
		rl.Instances = 1
	}
	if !set[p+".max_keys"] {
		rl.MaxKeys = defaultMaxKeys
	}
}

func upstreamDefaults(u *Upstream, p string, set map[string]bool) {
	absent := func(field string, dst *time.Duration, v time.Duration) {
		if !set[p+"."+field] {
			*dst = v
		}
	}
	if u.Balance == "" {
		u.Balance = defaultBalance
	}
	absent("timeout", &u.Timeout, defaultTimeout)
	absent("connect_timeout", &u.ConnectTimeout, defaultConnectTimeout)
	absent("read_timeout", &u.ReadTimeout, defaultIOTimeout)
	absent("write_timeout", &u.WriteTimeout, defaultIOTimeout)
	absent("idle_timeout", &u.IdleTimeout, defaultIdleTimeout)
	absent("passive_health.cooldown", &u.PassiveHealth.Cooldown, defaultCooldown)
	if !set[p+".max_conns"] {
		u.MaxConns = defaultMaxConns
	}
	if u.Retries == nil {
		n := defaultRetries
		u.Retries = &n
	}
	if u.RetryBudget == nil {
		b := defaultRetryBudget
		u.RetryBudget = &b
	}
	if u.ConnWait == nil {
		w := defaultConnWait
		u.ConnWait = &w
	}
	absent("body_idle_timeout", &u.BodyIdleTimeout, defaultBodyIdle)
	if !set[p+".max_streamed_bodies"] {
		// Clamped, so that an out-of-range max_conns is reported for itself only.
		u.MaxStreamedBodies = min(max(u.MaxConns/2, 1), 100000)
	}
	if !set[p+".passive_health.max_failures"] {
		u.PassiveHealth.MaxFailures = defaultMaxFailures
	}
	for j := range u.Targets {
		if !set[p+".targets["+strconv.Itoa(j)+"].weight"] {
			u.Targets[j].Weight = defaultWeight
		}
	}
}

func zeroDefault[T comparable](dst *T, v T) {
	var zero T
	if *dst == zero {
		*dst = v
	}
}
