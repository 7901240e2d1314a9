package gateway

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/auth/cors"
)

// corsStep answers CORS preflights itself, before any authentication
// (browsers send them without credentials), and adds the CORS headers to
// the route's answers: those of its backend, and the access-control and
// rate-limit refusals below it, so that a script can read a 401 or a 429.
// Every answer says Vary: Origin; a disallowed origin gets no CORS header.
type corsStep struct {
	policy *cors.Policy
	next   handler
}

func buildCORSStep(b *routeBuild) (step, error) {
	a := b.rc.Access
	if a == nil || a.CORS == nil {
		return nil, nil
	}
	c := a.CORS
	p, err := cors.New(cors.Settings{
		AllowedOrigins:   c.AllowedOrigins,
		AllowedMethods:   c.AllowedMethods,
		AllowedHeaders:   c.AllowedHeaders,
		ExposeHeaders:    c.ExposeHeaders,
		AllowCredentials: c.AllowCredentials,
		MaxAge:           c.MaxAge.Truncate(time.Second),
	})
	if err != nil {
		return nil, err
	}
	return &corsStep{policy: p}, nil
}

func (s *corsStep) wrap(next handler) handler {
	s.next = next
	return s.serve
}

func (s *corsStep) serve(ctx *fasthttp.RequestCtx) error {
	h := &ctx.Request.Header
	if cors.IsPreflight(h) {
		s.policy.Preflight(h, &ctx.Response.Header)
		ctx.Response.SetStatusCode(fasthttp.StatusNoContent)
		if ri := requestInfo(ctx); ri != nil {
			ri.answeredBy = "cors"
		}
		return nil
	}
	err := s.next(ctx)
	if a, ok := err.(*answer); err == nil || ok && a.keepHeaders {
		// The gateway's other error answers start from an empty
		// response, so they carry no CORS headers.
		s.policy.Apply(h, &ctx.Response.Header)
	}
	return err
}
