package gateway

import (
	"slices"
	"time"

	"github.com/fastgate/gateway/internal/httpx"
	"github.com/valyala/fasthttp"
)

// methodStep refuses TRACE (withoutTrace). Routes that list TRACE in
// match.methods do without it.
type methodStep struct{}

func buildMethodStep(b *routeBuild) (step, error) {
	if slices.Contains(b.rc.Match.Methods, fasthttp.MethodTrace) {
		return nil, nil
	}
	return methodStep{}, nil
}

func (methodStep) wrap(next handler) handler { return withoutTrace(next) }

// bodyLimitStep refuses a request whose declared body is larger than the
// route allows, before reading it. A chunked body is limited as it
// streams. A streamed body that fails through the client's fault is
// answered and counted as the client's error (see httpx.WatchBody).
type bodyLimitStep struct {
	rt    *route
	limit int
	// idle bounds the wait for each piece of a streamed body (the
	// upstream's body_idle_timeout); 0 for none.
	idle time.Duration
	next handler
}

func buildBodyLimitStep(b *routeBuild) (step, error) {
	s := &bodyLimitStep{rt: b.rt, limit: b.rt.maxBody}
	if u := b.rc.Upstream; u != nil {
		s.idle = u.BodyIdleTimeout
	}
	return s, nil
}

func (s *bodyLimitStep) wrap(next handler) handler {
	s.next = next
	return s.serve
}

func (s *bodyLimitStep) serve(ctx *fasthttp.RequestCtx) error {
	req := &ctx.Request
	switch cl := req.Header.ContentLength(); {
	case cl > s.limit:
		// The unread body is still on the connection: close it.
		ctx.SetConnectionClose()
		return httpx.ErrBodyTooLarge
	case req.IsBodyStream():
		return s.serveStream(ctx)
	}
	return s.next(ctx)
}

// serveStream is serve for a body that streams in: its limit and idle
// time are watched as the upstream reads it. Not inlined, so that a
// buffered request's stack does not carry its frame.
//
//go:noinline
func (s *bodyLimitStep) serveStream(ctx *fasthttp.RequestCtx) error {
	req := &ctx.Request
	l := httpx.WatchBody(ctx, s.limit, s.idle)
	err := s.next(ctx)
	berr := l.Failure()
	l.Release(req)
	if berr != nil {
		// Over the limit, or a body the client framed badly, sent
		// too slowly or left unfinished: the upstream got a broken
		// request, the client its own error.
		if berr != httpx.ErrBodyTooLarge {
			s.rt.metrics.ClientError(clientErrorKind(berr))
		}
		ctx.SetConnectionClose()
		return berr
	}
	return err
}

// responseHeadersStep applies the route's response header rules to the
// answer of the steps below it, unless they returned an error.
type responseHeadersStep struct {
	ops  headerOps
	next handler
}

func buildResponseHeadersStep(b *routeBuild) (step, error) {
	h := b.rc.ResponseHeaders
	if len(h.Set) == 0 && len(h.Remove) == 0 {
		return nil, nil
	}
	return &responseHeadersStep{ops: newHeaderOps(h.Set, h.Remove)}, nil
}

func (s *responseHeadersStep) wrap(next handler) handler {
	s.next = next
	return s.serve
}

func (s *responseHeadersStep) serve(ctx *fasthttp.RequestCtx) error {
	if err := s.next(ctx); err != nil {
		return err
	}
	s.ops.applyResponse(&ctx.Response.Header)
	return nil
}
