package gateway

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/internal/httpx"
)

// A step is one per-route feature of the pipeline: the rate limit, the
// breaker, the fallback chain, a backend. Each is one type, built from the
// route's configuration by its row of stepTable; the builder composes the
// route's steps once, when the snapshot is built, so nothing is composed
// per request.
//
// A step's handler passes the request on to next, or answers it itself:
// either by writing ctx.Response and returning nil, or by returning an
// error, which carries the gateway's answer (see answer). A step may also
// implement:
//
//   - closer: it holds something (a connection, a shared bucket) that must
//     be released when its route leaves service;
//   - drainer: a request that started on it may still be using it for a
//     while after the route left service (a backend's deadline);
//   - retryAfterer: it knows when a refused request may be tried again
//     (an open breaker), which a 503 then says in Retry-After.
//
// What a step carries over on reload: a route whose settings did not
// change (routeKey) is carried over whole, with the state of every one of
// its steps (buckets, breakers, caches, pools); a route that changed is
// built again. A step needs nothing of its own for that.
type step interface {
	// wrap returns the step's handler in front of next; next is nil for
	// a backend. Called once, when the route is built.
	wrap(next handler) handler
}

type closer interface{ close() }

type drainer interface {
	// drainTime is how long a request that started on the step may still
	// be using it.
	drainTime() time.Duration
}

type retryAfterer interface {
	// retryAfter is how long from now until the step would admit a
	// request again; 0 when it would now.
	retryAfter(now time.Time) time.Duration
}

// stepDef is one row of stepTable.
type stepDef struct {
	// name names the step: its trace span (with spaces for underscores)
	// and, for a backend, the answer source of the access log.
	name string
	// backend: the step answers every request it gets and never calls
	// next. A route has exactly one; it comes after every other step.
	backend bool
	// build returns the route's step, or nil when the route does not use
	// it (its configuration section is absent).
	build func(b *routeBuild) (step, error)
}

// stepTable is every route's pipeline, outermost step first: each step
// runs before, and around, the ones below it. The order, and why:
//
//   - hsts: outermost, so that every answer the route's steps write over
//     HTTPS (a fallback's, the backend's) carries the header; the
//     gateway's error answers reset the headers and go without it.
//   - method: TRACE is refused (405) unless the route lists it; nothing
//     else is spent on it.
//   - cors: a CORS preflight is answered here, before any
//     authentication, since browsers send preflights without
//     credentials; the CORS headers are added to every answer below it,
//     refusals included, so a script can read a 401 or a 429.
//   - ip: an address check is the cheapest refusal of a caller (a binary
//     search), so it comes before any credential is looked at.
//   - auth, forward_auth: the caller is authenticated before the rate
//     limit, so that an anonymous flood is refused without spending a
//     token of the callers' buckets, and so that the rate limit can key
//     on who the caller is (per: consumer, per: claim:NAME: the step
//     leaves the caller in the request). A refused request never reaches
//     the breaker or the upstream. A cached token or an API key costs no
//     allocation; bcrypt and forward-auth calls are cached.
//   - rate_limit: a request over its limit costs nothing more than the
//     decision, and never counts against the breaker or reaches the
//     upstream.
//   - body_limit: a body over the route's limit is refused before
//     anything is read from the client or sent upstream.
//   - compression: above fallback, so that the fallback cache stores an
//     answer once, uncompressed, and a cached copy is compressed for
//     each client as it accepts (or not at all); below the refusals, whose
//     small error answers are not worth it. It sees every answer the
//     route makes, the fallback's included, and changes only its body
//     encoding and the headers that name it.
//   - fallback: it sees what the steps below answered; when the upstream
//     failed or the breaker refused, its chain answers (cached copy,
//     alternate upstream, static answer, or the error). Good answers are
//     stored for the cache here, after the response header rules ran, so
//     that a copy is served as the client first got it.
//   - circuit_breaker: only requests the gateway admitted reach the
//     breaker, so refusals above never count as upstream failures.
//   - response_headers: the route's response header rules apply to every
//     answer its backend made, and never to the gateway's error answers
//     nor to a static fallback.
//   - the backend, exactly one: the gateway's own answer (respond), a
//     broker publish, a gRPC call, or the upstream.
var stepTable = []stepDef{
	{name: "hsts", build: buildHSTSStep},
	{name: "method", build: buildMethodStep},
	{name: "cors", build: buildCORSStep},
	{name: "ip", build: buildIPStep},
	{name: "auth", build: buildAuthStep},
	{name: "forward_auth", build: buildForwardAuthStep},
	{name: "rate_limit", build: buildRateLimitStep},
	{name: "body_limit", build: buildBodyLimitStep},
	{name: "compression", build: buildCompressStep},
	{name: "fallback", build: buildFallbackStep},
	{name: "circuit_breaker", build: buildBreakerStep},
	{name: "response_headers", build: buildResponseHeadersStep},
	{name: "respond", backend: true, build: buildRespondStep},
	{name: "publish", backend: true, build: buildPublishStep},
	{name: "grpc", backend: true, build: buildGRPCStep},
	{name: "upstream", backend: true, build: buildProxyStep},
}

// routeBuild is what a step's build reads: the route being built, its
// configuration, and what steps built before it (higher in the table)
// left for the ones below.
type routeBuild struct {
	d       *deps
	rt      *route
	rc      *config.Route
	cfg     *config.Config
	trusted *httpx.TrustedProxies

	// Left by circuit_breaker for the upstream backend: the route's
	// breaker, which also hears of failures after the answer's head, and
	// the breakers per target (per: target).
	breaker        breakerRecorder
	targetBreakers targetBreakers

	// Left by auth for rate_limit's per: claim:NAME: the claim's index in
	// the token's claims.
	rateClaim int
}

// buildRoute builds rc's steps from stepTable and composes its pipeline.
// On error, what was built is released again.
func (d *deps) buildRoute(rc *config.Route, cfg *config.Config, trusted *httpx.TrustedProxies) (_ *route, err error) {
	rt := &route{
		name:    rc.Name,
		cfg:     *rc,
		metrics: d.metrics.Route(rc.Name),
		maxBody: int(cfg.Server.MaxBodySize),
		logRate: logRate(rc),
	}
	if rc.MaxBodySize > 0 {
		rt.maxBody = int(rc.MaxBodySize)
	}
	defer func() {
		if err != nil {
			rt.close()
		}
	}()
	b := &routeBuild{d: d, rt: rt, rc: rc, cfg: cfg, trusted: trusted}
	var defs []*stepDef
	for i := range stepTable {
		def := &stepTable[i]
		s, err := def.build(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sectionOf(def.name), err)
		}
		if s == nil {
			continue
		}
		if def.backend {
			if rt.backend != nil {
				return nil, errors.New("more than one backend: set one of respond, upstream, grpc or publish")
			}
			rt.backend, rt.source = s, def.name
		}
		rt.steps = append(rt.steps, s)
		defs = append(defs, def)
	}
	if rt.backend == nil {
		return nil, errors.New("no backend: set respond, upstream, grpc or publish")
	}
	rt.handle = compose(rt.steps, defs, d.traced)
	return rt, nil
}

// sectionOf is the configuration key of a step, for error messages.
func sectionOf(name string) string {
	switch name {
	case "respond", "publish", "grpc", "upstream", "rate_limit", "fallback", "circuit_breaker", "compression":
		return name
	case "cors", "ip", "auth", "forward_auth":
		return "access"
	}
	return "step " + name
}

// compose wraps the steps, the last (the backend) innermost. With traced,
// each step records a span named after it, and its outcome.
func compose(steps []step, defs []*stepDef, traced bool) handler {
	var h handler
	for i := len(steps) - 1; i >= 0; i-- {
		if !traced {
			h = steps[i].wrap(h)
			continue
		}
		next := h
		if next != nil {
			next = (&reached{depth: i + 1, next: next}).serve
		}
		span := &spanned{name: strings.ReplaceAll(defs[i].name, "_", " "), depth: i}
		span.inner = steps[i].wrap(next)
		h = span.serve
	}
	return h
}

// reached notes, for the span of the step above it, that the request got
// past that step.
type reached struct {
	depth int
	next  handler
}

func (r *reached) serve(ctx *fasthttp.RequestCtx) error {
	if ri := requestInfo(ctx); ri != nil {
		ri.reached = max(ri.reached, r.depth)
	}
	return r.next(ctx)
}

// spanned runs a step inside a span of its own, under the span of the
// step above it, and records what the step did with the request as
// gateway.step.outcome: "passed" on to the next step, "answered" it, or
// "refused" it with an error of its own.
type spanned struct {
	name  string
	depth int
	inner handler
}

func (s *spanned) serve(ctx *fasthttp.RequestCtx) error {
	ri := requestInfo(ctx)
	if ri == nil || ri.span == nil {
		return s.inner(ctx)
	}
	parent := ri.cur
	sp := ri.stepSpan(s.name, time.Now())
	ri.cur = sp
	err := s.inner(ctx)
	ri.cur = parent
	outcome := "answered"
	switch {
	case ri.reached > s.depth:
		outcome = "passed"
	case err != nil:
		outcome = "refused"
	}
	sp.SetString("gateway.step.outcome", outcome)
	if err != nil {
		sp.SetError(err.Error())
	}
	sp.End(time.Now())
	return err
}
