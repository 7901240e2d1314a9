package gateway

import (
	"cmp"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/breaker"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/metrics"
	"github.com/fastgate/gateway/tracing"
)

// newRouteBreaker builds rc's circuit breaker, named by the route. Its
// state changes are logged once each and exported as
// gateway_breaker_state{route}.
func (d *deps) newRouteBreaker(rc *config.Route, m *metrics.Route) (*breaker.Breaker, error) {
	log := d.log
	s := breakerSettings(rc.CircuitBreaker, func(name string, from, to breaker.State) {
		m.BreakerState(int(to))
		m.BreakerTransition(int(to))
		if log != nil {
			log.Warn("gateway: circuit breaker changed state",
				"route", name, "from", from.String(), "to", to.String())
		}
	})
	b, err := breaker.New(rc.Name, s)
	if err != nil {
		return nil, err
	}
	m.BreakerState(int(breaker.Closed))
	return b, nil
}

// newTargetBreakers builds the breakers of a route with per: target, one
// per upstream target, exported as gateway_breaker_target_state{route,
// target}; each state change is logged once with the target.
func (d *deps) newTargetBreakers(rc *config.Route, m *metrics.Route) (*breaker.Set, error) {
	log := d.log
	route := rc.Name
	s := breakerSettings(rc.CircuitBreaker, func(target string, from, to breaker.State) {
		m.TargetBreakerState(target, int(to))
		m.BreakerTransition(int(to))
		if log != nil {
			log.Warn("gateway: circuit breaker changed state",
				"route", route, "target", target, "from", from.String(), "to", to.String())
		}
	})
	s.OnTarget = func(target string) { m.TargetBreakerState(target, int(breaker.Closed)) }
	return breaker.NewSet(s, 0)
}

func breakerSettings(c *config.CircuitBreaker, onChange func(name string, from, to breaker.State)) breaker.Settings {
	return breaker.Settings{
		FailureRatio:        c.FailureRatio,
		MinRequests:         uint32(c.MinRequests),
		ConsecutiveFailures: uint32(c.ConsecutiveFailures),
		Window:              c.Window,
		OpenFor:             c.OpenFor,
		HalfOpenRequests:    uint32(c.HalfOpenRequests),
		FailureStatuses:     c.FailureOn,
		OnStateChange:       onChange,
	}
}

// guardStep runs the backend behind the route's breaker, serves the
// fallback chain when the upstream failed or the breaker is open, and
// keeps good answers for the fallback cache. Either of br and fb may be
// nil, not both.
type guardStep struct {
	route *route
	next  handler
	br    *breaker.Breaker
	fb    *fallback
}

func (g *guardStep) serve(ctx *fasthttp.RequestCtx) error {
	fb := g.fb
	var kb *[]byte // the request's cache key, when the route caches
	if fb != nil && fb.cache != nil && fb.keyed(ctx.Method()) {
		kb = keyPool.Get().(*[]byte)
		*kb = fb.appendKey((*kb)[:0], g.route.name, ctx)
		defer putKey(kb)
	}
	var err error
	rejected := false
	if g.br != nil {
		ri := tracedInfo(ctx, g.route)
		var sp *tracing.Span
		if ri != nil {
			// The span covers the call the breaker guards.
			sp = ri.stepSpan("circuit breaker", time.Now())
		}
		// The closure does not escape: Do calls it before returning.
		rejected = g.br.Do(func() (int, bool) {
			err = g.next(ctx)
			return callOutcome(ctx, err)
		})
		if rejected {
			err = errBreakerOpen
		}
		if sp != nil {
			sp.SetString("gateway.breaker.outcome", pick(rejected, "rejected", "admitted"))
			if err != nil {
				sp.SetError(err.Error())
			}
			sp.End(time.Now())
		}
	} else {
		err = g.next(ctx)
	}
	switch {
	case err == nil && fb != nil && fb.onStatus(ctx):
		err = errUpstreamStatus
	case err == nil:
		if kb == nil {
			return nil
		}
		if err = fb.store(ctx, *kb); err == nil {
			return nil
		}
	}
	if fb == nil || !fallbackCause(err) || !fb.eligible(ctx.Method()) {
		return err
	}
	var key []byte
	if kb != nil {
		key = *kb
	}
	ri := tracedInfo(ctx, g.route)
	if ri == nil {
		return fb.serve(ctx, key, err, !rejected)
	}
	sp := ri.stepSpan("fallback", time.Now())
	err = fb.serve(ctx, key, err, !rejected)
	sp.SetString("gateway.fallback", cmp.Or(ri.fallback, "error"))
	sp.End(time.Now())
	return err
}

// putKey returns a key buffer to keyPool, unless a rare long key grew it.
func putKey(kb *[]byte) {
	if cap(*kb) <= maxPooledKey {
		keyPool.Put(kb)
	}
}

// maxPooledKey is the largest key buffer kept for reuse.
const maxPooledKey = 4 << 10

// callOutcome is what the breaker learns from one run of the backend:
// the upstream's status, or connErr for a failed connection or a
// timeout. Errors that say nothing about the upstream's health (pool
// exhausted, no instance, a refused body) report neither.
func callOutcome(ctx *fasthttp.RequestCtx, err error) (status int, connErr bool) {
	switch err {
	case nil:
		return ctx.Response.StatusCode(), false
	case errUpstreamFailed, errUpstreamTimeout:
		return 0, true
	}
	return 0, false
}

// fallbackCause reports whether err lets the fallback chain answer: the
// upstream could not be reached or did not answer, or the breaker is
// open.
func fallbackCause(err error) bool {
	switch err {
	case errUpstreamFailed, errUpstreamTimeout, errNoInstance, errUpstreamSaturated, errBreakerOpen, errUpstreamStatus:
		return true
	}
	return false
}

// ageSeconds is the Age of a copy stored at stored, as of now.
func ageSeconds(now, stored time.Time) int64 {
	if d := now.Sub(stored); d > 0 {
		return int64(d / time.Second)
	}
	return 0
}
