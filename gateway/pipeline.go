package gateway

import (
	"slices"
	"time"

	"github.com/fastgate/gateway/internal/httpx"
	"github.com/valyala/fasthttp"
)

// buildPipeline composes a route's steps once, when the snapshot is built;
// nothing is composed per request. The order, and why:
//
//  0. TRACE refused (405) unless the route lists it: nothing else is
//     spent on it.
//  1. rate limit: a request over its limit costs nothing more than the
//     decision, and never counts against the breaker or reaches the
//     upstream.
//  2. body limit: refused before anything is read from the client or sent
//     upstream.
//  3. breaker and fallback: only requests the gateway admitted reach the
//     breaker, so refusals above never count as upstream failures. When
//     the upstream failed or the breaker is open, the fallback chain
//     answers (cached copy, static answer, or the error). Good answers are
//     stored for the cache here, after the response header rules ran, so
//     a copy is served as the client first got it.
//  4. response headers: the route's response header rules apply to every
//     answer its backend made, and never to the gateway's error answers
//     nor to a static fallback.
//  5. backend: the gateway's own answer (respond), the upstream (proxy),
//     a gRPC call, or a broker publish.
func buildPipeline(rt *route, trusted *httpx.TrustedProxies) handler {
	var backend handler
	switch {
	case rt.respond != nil:
		backend = rt.respond.serve
	case rt.publish != nil:
		backend = rt.publish.serve
	case rt.grpc != nil:
		backend = rt.grpc.serve
	default:
		p := &proxyStep{route: rt, pool: rt.upstream, trusted: trusted, breakers: rt.targetBreakers}
		backend = p.serve
	}
	h := withResponseHeaders(rt, backend)
	if rt.breaker != nil || rt.fallback != nil {
		g := &guardStep{route: rt, next: h, br: rt.breaker, fb: rt.fallback}
		h = g.serve
	}
	h = withBodyLimit(rt, h)
	if rt.limit != nil {
		h = withRateLimit(rt, trusted, h)
	}
	if !slices.Contains(rt.cfg.Match.Methods, fasthttp.MethodTrace) {
		h = withoutTrace(h)
	}
	return h
}

// withBodyLimit refuses a request whose declared body is larger than the
// route allows, before reading it. A chunked body is limited as it streams.
// A streamed body that fails through the client's fault is answered and
// counted as the client's error (see httpx.WatchBody).
func withBodyLimit(rt *route, next handler) handler {
	limit := rt.maxBody
	var idle time.Duration
	if rt.upstream != nil {
		idle = rt.upstream.settings.BodyIdleTimeout
	}
	return func(ctx *fasthttp.RequestCtx) error {
		req := &ctx.Request
		switch cl := req.Header.ContentLength(); {
		case cl > limit:
			// The unread body is still on the connection: close it.
			ctx.SetConnectionClose()
			return httpx.ErrBodyTooLarge
		case req.IsBodyStream():
			l := httpx.WatchBody(ctx, limit, idle)
			err := next(ctx)
			berr := l.Failure()
			l.Release(req)
			if berr != nil {
				// Over the limit, or a body the client framed badly, sent
				// too slowly or left unfinished: the upstream got a broken
				// request, the client its own error.
				if berr != httpx.ErrBodyTooLarge {
					rt.metrics.ClientError(clientErrorKind(berr))
				}
				ctx.SetConnectionClose()
				return berr
			}
			return err
		}
		return next(ctx)
	}
}

func withResponseHeaders(rt *route, next handler) handler {
	if len(rt.respHeaders.set) == 0 && len(rt.respHeaders.remove) == 0 {
		return next
	}
	ops := rt.respHeaders
	return func(ctx *fasthttp.RequestCtx) error {
		if err := next(ctx); err != nil {
			return err
		}
		ops.applyResponse(&ctx.Response.Header)
		return nil
	}
}
