package gateway

import (
	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/internal/httpx"
)

// withoutTrace refuses TRACE, which has the upstream echo the request,
// cookies and credentials included, back to whoever sent it (cross-site
// tracing). Routes that list TRACE in match.methods do without this step.
func withoutTrace(next handler) handler {
	return func(ctx *fasthttp.RequestCtx) error {
		if m := ctx.Method(); string(m) == fasthttp.MethodTrace {
			return httpx.ErrMethodNotAllowed
		}
		return next(ctx)
	}
}

// checkRequest holds a request fasthttp accepted to the gateway's own rules,
// before anything routes on it: its version (httpx.CheckVersion, 505), the
// number of its header lines (server.max_header_count, 431), its framing
// (httpx.BadFraming), the length of its target (server.max_uri_length, 414)
// and the path policy (httpx.CheckTarget). An absolute-form target's host
// replaces the Host header, so that routing, the Host sent upstream,
// X-Forwarded-Host and logs all use that one value (RFC 9112 section
// 3.2.2). It returns the error the client gets, or nil. It may run twice
// for one request (Expect: 100-continue, then the handler); the second run
// finds nothing new to do.
func checkRequest(ctx *fasthttp.RequestCtx, snap *snapshot) error {
	h := &ctx.Request.Header
	if !httpx.CheckVersion(h) {
		return httpx.ErrVersionNotSupported
	}
	if max := snap.cfg.Server.MaxHeaderCount; max > 0 && httpx.HeaderLines(h.RawHeaders()) > max {
		return httpx.ErrHeaderTooLarge
	}
	if httpx.BadFraming(h) {
		return httpx.ErrBadRequest
	}
	target := h.RequestURI()
	if max := snap.cfg.Server.MaxURILength; max > 0 && int64(len(target)) > int64(max) {
		return httpx.ErrURITooLong
	}
	switch httpx.CheckTarget(target) {
	case httpx.TargetBad:
		return httpx.ErrBadRequest
	case httpx.TargetAbsolute:
		h.SetHostBytes(ctx.URI().Host())
	}
	return nil
}
