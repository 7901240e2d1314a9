package gateway

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/breaker"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/metrics"
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

// breakerRecorder is the route's breaker as the upstream backend sees it:
// it also hears of failures after an answer's head was forwarded.
type breakerRecorder interface {
	Record(status int, connErr bool)
}

// targetBreakers are the breakers per upstream target (per: target).
type targetBreakers = *breaker.Set

// breakerStep runs the steps below it behind the route's breaker: while
// it is open they do not run and the request gets errRouteBreakerOpen
// (which the fallback above may answer).
type breakerStep struct {
	br   *breaker.Breaker
	next handler
}

// buildBreakerStep builds the route's circuit breaker. With per: target
// it builds the breakers per target instead, which the upstream backend
// holds (routeBuild.targetBreakers), and no step of its own.
func buildBreakerStep(b *routeBuild) (step, error) {
	rc, m, d := b.rc, b.rt.metrics, b.d
	switch cb := rc.CircuitBreaker; {
	case cb != nil && cb.Per == config.BreakerPerTarget:
		set, err := d.newTargetBreakers(rc, m)
		if err != nil {
			return nil, err
		}
		b.targetBreakers = set
		if !d.check {
			m.NoBreaker()
		}
		return nil, nil
	case cb != nil:
		br, err := d.newRouteBreaker(rc, m)
		if err != nil {
			return nil, err
		}
		if !d.check {
			m.NoTargetBreakers()
		}
		b.breaker = br
		return &breakerStep{br: br}, nil
	case !d.check:
		m.NoBreaker()
		m.NoTargetBreakers()
	}
	return nil, nil
}

func (s *breakerStep) wrap(next handler) handler {
	s.next = next
	return s.serve
}

// retryAfter is the time until the breaker turns half-open.
func (s *breakerStep) retryAfter(now time.Time) time.Duration { return s.br.OpenRemaining(now) }

func (s *breakerStep) serve(ctx *fasthttp.RequestCtx) (err error) {
	if s.br.Settled() {
		// What Do would do, without its frames under the rest of the
		// pipeline while the upstream answers.
		ran := false
		defer func() {
			if !ran { // a panic: counted as a failure, and passed on
				s.br.Record(0, true)
			}
		}()
		err = s.next(ctx)
		ran = true
		s.br.Record(callOutcome(ctx, err))
		return err
	}
	return s.serveUnsettled(ctx)
}

// serveUnsettled is serve while the breaker is not settled: the breaker
// decides whether the steps below run. Not inlined, so that the settled
// path's frame stays small.
//
//go:noinline
func (s *breakerStep) serveUnsettled(ctx *fasthttp.RequestCtx) (err error) {
	// The closure does not escape: Do calls it before returning.
	if s.br.Do(func() (int, bool) {
		err = s.next(ctx)
		return callOutcome(ctx, err)
	}) {
		return errRouteBreakerOpen
	}
	return err
}

// errRouteBreakerOpen is errBreakerOpen from the route's own breaker: the
// steps below it did not run. (The upstream backend answers errBreakerOpen
// when the breakers of all its targets are open.)
var errRouteBreakerOpen = &answer{status: errBreakerOpen.status, msg: errBreakerOpen.msg, source: errBreakerOpen.source, retry: true}

// fallbackStep serves the fallback chain when the steps below it failed
// to reach the upstream or the breaker is open, and keeps good answers
// for the fallback cache.
type fallbackStep struct {
	route string
	fb    *fallback
	next  handler
}

func buildFallbackStep(b *routeBuild) (step, error) {
	if b.rc.Fallback == nil {
		return nil, nil
	}
	fb, err := b.d.newFallback(b)
	if err != nil {
		return nil, err
	}
	b.rt.metrics.UseFallbacks()
	return &fallbackStep{route: b.rt.name, fb: fb}, nil
}

func (s *fallbackStep) wrap(next handler) handler {
	s.next = next
	return s.serve
}

func (s *fallbackStep) close() { s.fb.close() }

// drainTime: the alternate starts when the first upstream gave up.
func (s *fallbackStep) drainTime() time.Duration {
	if s.fb.alt == nil {
		return 0
	}
	return s.fb.alt.pool.settings.Timeout
}

func (s *fallbackStep) serve(ctx *fasthttp.RequestCtx) error {
	fb := s.fb
	var k *cacheKey   // the request's cache key, when the route caches
	skipStore := true // no copy of the answer is to be kept
	if fb.cache != nil && fb.keyed(ctx.Method()) {
		k, skipStore = fb.key(s.route, ctx)
	}
	// What follows on success reads no more of the request than its
	// answer's status: by the time the upstream answered, other
	// connections' requests have run and the rest is out of the cache.
	err := s.next(ctx)
	switch {
	case err == nil && fb.onStatus(ctx):
		err = errUpstreamStatus
	case err == nil:
		if !skipStore {
			err = fb.store(ctx, k)
		}
		if err == nil {
			releaseKey(k)
			return nil
		}
	}
	return s.fail(ctx, k, err)
}

// fail runs the fallback chain, when err lets it, for a request whose
// key (nil: none) was built before the backend ran, and gives the key
// back. Not inlined: the step's frame stays on the stack while the
// request is forwarded, and each cache line of it is touched again by
// the connection's next request.
//
//go:noinline
func (s *fallbackStep) fail(ctx *fasthttp.RequestCtx, k *cacheKey, err error) error {
	defer releaseKey(k)
	fb := s.fb
	if !fallbackCause(err) || !fb.eligible(ctx.Method()) {
		return err
	}
	var key []byte
	if k != nil {
		key = k.b
	}
	// When the route's breaker refused, the backend did not run, and did
	// not prepare the request for forwarding.
	return fb.serve(ctx, key, err, err != errRouteBreakerOpen)
}

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
	case errUpstreamFailed, errUpstreamTimeout, errNoInstance, errUpstreamSaturated, errBreakerOpen, errRouteBreakerOpen, errUpstreamStatus:
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
