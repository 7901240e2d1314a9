package gateway

import (
	"errors"
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/auth/forward"
	"github.com/fastgate/gateway/internal/httpx"
	"github.com/fastgate/gateway/metrics"
)

// errForwardBodyTooLarge answers a request whose body is over what the
// route sends to its forward-auth endpoint.
var errForwardBodyTooLarge = &answer{status: fasthttp.StatusRequestEntityTooLarge, msg: "request body too large", source: "auth", keepHeaders: true}

// forwardAuthStep asks the route's forward-auth endpoint about each
// request (decisions may be cached): a 2xx admits it, with the endpoint's
// allow-listed headers added upstream (inbound copies removed first); any
// other answer is the client's, with its status, allow-listed headers and
// body. A failed call (timeout, unreachable, too large, malformed) is
// answered 503: the step fails closed.
type forwardAuthStep struct {
	client  *forward.Client
	trusted *httpx.TrustedProxies
	metrics *metrics.Auth
	log     *slog.Logger
	// upstream are the headers a decision may add, removed from every
	// request first.
	upstream [][]byte
	next     handler
}

func buildForwardAuthStep(b *routeBuild) (step, error) {
	a := b.rc.Access
	if a == nil || a.ForwardAuth == nil {
		return nil, nil
	}
	f := a.ForwardAuth
	c, err := forward.New(forward.Settings{
		URL:                 f.URL,
		Timeout:             f.Timeout,
		RequestHeaders:      f.RequestHeaders,
		UpstreamHeaders:     f.UpstreamHeaders,
		ClientHeaders:       f.ClientHeaders,
		MaxBodyBytes:        int(f.MaxAnswerSize),
		SendBody:            f.SendBody,
		MaxRequestBodyBytes: int(f.MaxRequestBodySize),
		CacheTTL:            f.CacheTTL,
		CacheKeyHeaders:     f.CacheKeyHeaders,
		CacheKeyRequest:     f.CacheKeyRequest,
	})
	if err != nil {
		return nil, err
	}
	s := &forwardAuthStep{client: c, trusted: b.trusted, metrics: b.rt.metrics.Auth(true), log: b.d.log.With("route", b.rc.Name)}
	for _, h := range f.UpstreamHeaders {
		s.upstream = append(s.upstream, []byte(h))
	}
	return s, nil
}

func (s *forwardAuthStep) wrap(next handler) handler {
	s.next = next
	return s.serve
}

// close closes the idle connections to the endpoint.
func (s *forwardAuthStep) close() { _ = s.client.Close() }

func (s *forwardAuthStep) serve(ctx *fasthttp.RequestCtx) error {
	h := &ctx.Request.Header
	for _, name := range s.upstream {
		h.DelBytes(name)
	}
	start := time.Now()
	dec, err := s.client.Check(&ctx.Request, s.forwarded(ctx), start)
	s.metrics.Forwarded(time.Since(start), err != nil && !errors.Is(err, forward.ErrRequestTooLarge))
	if err != nil {
		if errors.Is(err, forward.ErrRequestTooLarge) {
			s.metrics.Result(metrics.AuthForbidden)
			return errForwardBodyTooLarge
		}
		s.metrics.Result(metrics.AuthError)
		s.log.Warn("auth: forward auth failed; answering 503", "error", err)
		return errAuthUnavailable
	}
	if dec.Allowed {
		s.metrics.Result(metrics.AuthAllowed)
		for _, hv := range dec.Headers {
			h.Set(hv.Name, hv.Value)
		}
		return s.next(ctx)
	}
	result := metrics.AuthForbidden
	if dec.Status == fasthttp.StatusUnauthorized {
		result = metrics.AuthInvalid
	}
	s.metrics.Result(result)
	resp := &ctx.Response
	resp.SetStatusCode(dec.Status)
	for _, hv := range dec.Headers {
		resp.Header.Add(hv.Name, hv.Value)
	}
	resp.SetBody(dec.Body)
	if ri := requestInfo(ctx); ri != nil {
		ri.answeredBy = "auth"
	}
	return nil
}

// forwarded is what the gateway itself knows of the request, for the
// endpoint's X-Forwarded-* headers.
func (s *forwardAuthStep) forwarded(ctx *fasthttp.RequestCtx) forward.Forwarded {
	proto := "http"
	if ctx.IsTLS() {
		proto = "https"
	}
	return forward.Forwarded{
		For:   httpx.ClientAddr(ctx, s.trusted).String(),
		Proto: proto,
		Host:  string(ctx.Host()),
	}
}
