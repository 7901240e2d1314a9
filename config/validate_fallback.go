package config

import (
	"strconv"
	"strings"
)

// The checks of circuit breakers, fallbacks and the fallback cache.

// guard checks a route's circuit breaker and fallback.
func (v *validator) guard(r *Route, p string) {
	if r.CircuitBreaker != nil {
		if r.Upstream == nil && r.GRPC == nil {
			v.errorf(p+".circuit_breaker", "needs an upstream or grpc")
		}
		v.circuitBreaker(r.CircuitBreaker, p+".circuit_breaker")
		if r.CircuitBreaker.Per == BreakerPerTarget && r.Upstream == nil {
			v.errorf(p+".circuit_breaker.per", "target needs an HTTP upstream")
		}
	}
	if r.Fallback != nil {
		if r.Upstream == nil {
			v.errorf(p+".fallback", "needs an upstream")
		}
		v.fallback(r.Fallback, p+".fallback")
	}
}

func (v *validator) circuitBreaker(cb *CircuitBreaker, p string) {
	switch cb.Per {
	case BreakerPerRoute, BreakerPerTarget:
	default:
		v.invalid(p+".per", cb.Per, "must be route or target")
	}
	v.statuses(cb.FailureOn, p+".failure_on", 400, "must be an error status (400-599)")
}

// statuses checks a list of HTTP statuses: each from lowest to 599
// (else the error says want), none twice.
func (v *validator) statuses(list []int, p string, lowest int, want string) {
	seen := make(map[int]bool, len(list))
	for i, st := range list {
		sp := p + "[" + strconv.Itoa(i) + "]"
		switch {
		case st < lowest || st > 599:
			v.invalid(sp, st, want)
		case seen[st]:
			v.invalid(sp, st, "listed twice")
		}
		seen[st] = true
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
