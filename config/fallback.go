package config

import (
	"strconv"
	"strings"
	"time"
)

// Fallbacks: what a route serves when its upstream failed (a route's
// fallback), and the gateway-wide cache of fallback copies (cache).

// Fallback says what a route serves instead of an upstream error.
type Fallback struct {
	// Methods are the request methods that get a fallback; others get the
	// plain error. Default [GET, HEAD].
	Methods []string `yaml:"methods"`
	// Cache serves the last good response for the same request. Default:
	// none.
	Cache *FallbackCache `yaml:"cache"`
	// Upstream is an alternate upstream (another target list or
	// discovered service, e.g. a read-only replica), tried when there is
	// no cached copy, with its own timeout. Same keys as a route's
	// upstream. Default: none.
	Upstream *Upstream `yaml:"upstream"`
	// Static is a fixed answer, served when there is no cached copy and
	// the alternate upstream (if any) failed too. Default: none.
	Static *Respond `yaml:"static"`
	// OnStatus lists upstream answer statuses (400-599) that take the
	// fallback chain as a failed upstream does, as nginx's
	// proxy_cache_use_stale http_503 does. Default: none, the upstream's
	// answer is passed on whatever its status.
	OnStatus []int `yaml:"on_status"`
}

// FallbackCache keeps a route's last good responses in the gateway-wide
// cache (the top-level cache section).
type FallbackCache struct {
	// MaxStale is the age past which a stored copy is no longer served.
	// Default 5m. Zero means the default.
	MaxStale time.Duration `yaml:"max_stale" range:"1s,168h"`
	// Vary names request headers whose values are part of the cache key,
	// besides method, host, path and query. Default: none.
	Vary []string `yaml:"vary"`
	// MaxEntrySize is the largest response body stored; a response
	// without Content-Length or with a larger one is not stored. Default
	// 1MiB. Zero means the default.
	MaxEntrySize ByteSize `yaml:"max_entry_size" range:"1B,1GiB"`
	// AllowPrivate stores responses marked Cache-Control: private or
	// carrying Set-Cookie (the Set-Cookie header itself is never stored).
	// Set it only when the answers are the same for every client. Default
	// false.
	AllowPrivate bool `yaml:"allow_private"`
	// MarkerHeader and MarkerValue are the header added to a cached copy
	// served as a fallback. Default "X-Cache: STALE". Zero means the
	// default.
	// Store is where copies are kept: "memory" (default: this instance's
	// own) or "redis" (also in the top-level redis, so that every gateway
	// instance serves the copies any of them stored; memory still serves
	// while Redis is down).
	Store        string `yaml:"store"`
	MarkerHeader string `yaml:"marker_header"`
	MarkerValue  string `yaml:"marker_value"`
}

// Cache is the gateway-wide store of fallback copies, shared by every
// route with fallback.cache (each route's entries are its own).
type Cache struct {
	// MaxBytes bounds what the cache holds, keys, headers and bodies
	// counted. Default 64MiB. Zero means the default.
	MaxBytes ByteSize `yaml:"max_bytes" range:"64KiB,64GiB"`
	// MaxEntries bounds the number of entries. Default 0: no limit but
	// MaxBytes. Otherwise at least 2.
	MaxEntries int `yaml:"max_entries" range:"2,100000000,zero"`
}

// Values of FallbackCache.Store.
const (
	StoreMemory = "memory"
	StoreRedis  = "redis"
)

const (
	defaultMaxStale      = 5 * time.Minute
	defaultMaxEntrySize  = 1 << 20
	defaultMarkerHeader  = "X-Cache"
	defaultMarkerValue   = "STALE"
	defaultCacheMaxBytes = 64 << 20
)

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
	if f.Static != nil {
		respondDefaults(f.Static, p+".static", set, defaultFallbackStatus)
	}
}

func cacheDefaults(c *Cache) {
	zeroDefault(&c.MaxBytes, defaultCacheMaxBytes)
}

// routeFallback checks a route's fallback, and that the route has an
// upstream to fall back from.
func (v *validator) routeFallback(r *Route, p string) {
	if r.Fallback != nil {
		if r.Upstream == nil {
			v.errorf(p+".fallback", "needs an upstream")
		}
		v.fallback(r.Fallback, p+".fallback")
	}
}

func (v *validator) fallback(f *Fallback, p string) {
	v.methods(f.Methods, p+".methods")
	v.statuses(f.OnStatus, p+".on_status", 400, "must be an error status (400-599)")
	if f.Upstream != nil {
		v.upstream(f.Upstream, p+".upstream")
	}
	if c := f.Cache; c != nil {
		cp := p + ".cache"
		for i, name := range c.Vary {
			if !isToken(name) {
				v.errorf(cp+".vary["+strconv.Itoa(i)+"]", "%q: not a valid header name", name)
			}
		}
		if !isToken(c.MarkerHeader) {
			v.errorf(cp+".marker_header", "%q: not a valid header name", c.MarkerHeader)
		}
		switch c.Store {
		case StoreMemory:
		case StoreRedis:
			if !v.haveRedis {
				v.errorf(cp+".store", "redis needs the top-level redis setting")
			}
		default:
			v.invalid(cp+".store", c.Store, "must be memory or redis")
		}
		if strings.ContainsAny(c.MarkerValue, "\r\n\x00") {
			v.errorf(cp+".marker_value", "header value must not contain CR, LF or NUL")
		}
	}
	if f.Static != nil {
		v.respond(f.Static, p+".static")
	}
}

// cacheSizes checks that each route's fallback copies fit the shared
// cache: no entry may take more than half of it.
func (v *validator) cacheSizes(c *Config) {
	total := ByteSize(defaultCacheMaxBytes)
	if c.Cache != nil {
		total = c.Cache.MaxBytes
	}
	if total <= 0 {
		return // reported already
	}
	for i := range c.Routes {
		f := c.Routes[i].Fallback
		if f == nil || f.Cache == nil || f.Cache.MaxEntrySize <= total/2 {
			continue
		}
		v.errorf("routes["+strconv.Itoa(i)+"].fallback.cache.max_entry_size",
			"%s: must be at most half of cache.max_bytes (%s)", formatSize(f.Cache.MaxEntrySize), formatSize(total))
	}
}
