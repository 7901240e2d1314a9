package config

import (
	"strconv"
	"time"
)

// Circuit breakers: a route's circuit_breaker.

// CircuitBreaker is a route's circuit breaker. It opens when either rule
// trips: FailureRatio over at least MinRequests calls, or
// ConsecutiveFailures in a row, both within Window.
type CircuitBreaker struct {
	// FailureRatio opens the breaker when at least this share (0..1) of
	// the calls within Window failed. Default 0: the ratio rule is off.
	FailureRatio float64 `yaml:"failure_ratio" range:"0,1"`
	// MinRequests is how many calls Window must hold before FailureRatio
	// applies. Default 0: from the first call.
	MinRequests int `yaml:"min_requests" range:"0,1000000"`
	// ConsecutiveFailures opens the breaker after this many failures in a
	// row. Default 0: the rule is off, unless FailureRatio is 0 too; then
	// it is 5.
	ConsecutiveFailures int `yaml:"consecutive_failures" range:"0,1000000"`
	// Window is how far back the counts reach. Default 10s. Zero means the
	// default.
	Window time.Duration `yaml:"window" range:"1s,24h"`
	// OpenFor is how long the breaker stays open before probing. Default
	// 30s. Zero means the default.
	OpenFor time.Duration `yaml:"open_for" range:"100ms,24h"`
	// HalfOpenRequests is how many probe calls pass once OpenFor is over;
	// all must succeed to close the breaker. Default 1. Zero means the
	// default.
	HalfOpenRequests int `yaml:"half_open_requests" range:"1,1000"`
	// FailureOn lists the upstream statuses (100-599) that count as
	// failures. Default: every 5xx. Connection errors and timeouts always
	// count; a 4xx counts only when listed.
	FailureOn []int `yaml:"failure_on"`
	// Per says what one breaker guards: "route" (default: one breaker for
	// the whole route) or "target" (one per upstream target, so one bad
	// instance is skipped while the others serve; the route's requests
	// fail over to a target whose breaker is closed).
	Per string `yaml:"per"`
}

// Circuit breaker scopes.
const (
	BreakerPerRoute  = "route"
	BreakerPerTarget = "target"
)

const (
	defaultWindow           = 10 * time.Second
	defaultOpenFor          = 30 * time.Second
	defaultHalfOpenRequests = 1
)

func breakerDefaults(cb *CircuitBreaker) {
	zeroDefault(&cb.Window, defaultWindow)
	zeroDefault(&cb.OpenFor, defaultOpenFor)
	zeroDefault(&cb.HalfOpenRequests, defaultHalfOpenRequests)
	zeroDefault(&cb.Per, BreakerPerRoute)
}

// routeBreaker checks a route's circuit breaker, and that the route has
// something it can guard.
func (v *validator) routeBreaker(r *Route, p string) {
	if r.CircuitBreaker != nil {
		if r.Upstream == nil && r.GRPC == nil {
			v.errorf(p+".circuit_breaker", "needs an upstream or grpc")
		}
		v.circuitBreaker(r.CircuitBreaker, p+".circuit_breaker")
		if r.CircuitBreaker.Per == BreakerPerTarget && r.Upstream == nil {
			v.errorf(p+".circuit_breaker.per", "target needs an HTTP upstream")
		}
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
