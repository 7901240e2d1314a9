package gateway

import (
	"errors"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/internal/httpx"
)

// Errors the pipeline returns. Each maps to one status in statusOf; they are
// preallocated so the request path never builds an error.
var (
	errNoRoute           = errors.New("no route matches")
	errRateLimited       = errors.New("rate limit exceeded")
	errUpstreamFailed    = errors.New("upstream failed")
	errUpstreamTimeout   = errors.New("upstream timed out")
	errNoInstance        = errors.New("no upstream instance available")
	errUpstreamSaturated = errors.New("upstream connection pool exhausted")
	errBreakerOpen       = errors.New("circuit breaker open")
	errInternal          = errors.New("internal error")
	errUpstreamTooLarge  = errors.New("upstream response too large")
	// errUpstreamStatus: the upstream answered with a status of the
	// route's fallback.on_status. Never written: the chain answers, or
	// the upstream's answer stands.
	errUpstreamStatus = errors.New("upstream answered with a fallback status")
	errBadPathParam   = errors.New("a path parameter holds characters a destination cannot take")
	// Publishes: never a 2xx for a message the broker did not confirm.
	errBrokerUnavailable   = errors.New("broker unavailable")
	errPublishNotConfirmed = errors.New("broker did not confirm the message")
	errPublishTimeout      = errors.New("broker did not confirm the message in time")
	errNoResponders        = errors.New("no responders for subject")
)

// errStreamsBusy: the route's upstream.max_streamed_bodies requests with
// a streamed body are being forwarded already.
var errStreamsBusy = errors.New("too many streamed request bodies in flight; retry later")

// statusOf maps an error of the pipeline to the status the client gets:
// the status an error carries (httpx.Error), else the one of its sentinel
// here. Anything unknown is a 502: it came from the way to the upstream.
func statusOf(err error) int {
	switch err {
	case errNoRoute:
		return fasthttp.StatusNotFound
	case errRateLimited:
		return fasthttp.StatusTooManyRequests
	case errBadPathParam:
		return fasthttp.StatusBadRequest
	case errUpstreamTimeout, errPublishTimeout:
		return fasthttp.StatusGatewayTimeout
	case errNoInstance, errUpstreamSaturated, errStreamsBusy, errBreakerOpen, errBrokerUnavailable, errPublishNotConfirmed, errNoResponders:
		return fasthttp.StatusServiceUnavailable
	case errInternal:
		return fasthttp.StatusInternalServerError
	default:
		if s, ok := err.(interface{ StatusCode() int }); ok {
			return s.StatusCode()
		}
		return fasthttp.StatusBadGateway
	}
}

// writeError answers with the gateway's own JSON error body:
// {"error": "...", "route": "..."}. Route names are restricted to
// [A-Za-z0-9_.-] by config validation and messages are constants, so
// nothing needs escaping.
func writeError(ctx *fasthttp.RequestCtx, err error, route string) {
	status := statusOf(err)
	resp := &ctx.Response
	// Anything an upstream already put in the response must not leak out,
	// but a decision to close the connection stands.
	closeConn := resp.ConnectionClose()
	resp.Reset()
	if closeConn {
		resp.SetConnectionClose()
	}
	resp.SetStatusCode(status)
	resp.Header.SetContentType("application/json")
	resp.AppendBodyString(`{"error":"`)
	resp.AppendBodyString(err.Error())
	resp.AppendBodyString(`","route":"`)
	resp.AppendBodyString(route)
	resp.AppendBodyString("\"}\n")
	switch status {
	case fasthttp.StatusServiceUnavailable:
		resp.Header.Set("Retry-After", "1")
	case fasthttp.StatusMethodNotAllowed:
		resp.Header.Set("Allow", httpx.AllowedMethods)
	}
}

// writeRouteError is writeError for a request that route rt took. A
// breaker-open 503 says in Retry-After when a probe may pass again: the
// seconds until the route's breaker, or the soonest of its targets',
// turns half-open, rounded up, at least 1.
func writeRouteError(ctx *fasthttp.RequestCtx, err error, rt *route) {
	writeError(ctx, err, rt.name)
	if err != errBreakerOpen {
		return
	}
	now := time.Now()
	var wait time.Duration
	if rt.breaker != nil {
		wait = rt.breaker.OpenRemaining(now)
	}
	if rt.targetBreakers != nil {
		wait = max(wait, rt.targetBreakers.OpenRemaining(now))
	}
	var buf [20]byte
	ctx.Response.Header.SetCanonical(keyRetryAfter, strconv.AppendInt(buf[:0], retryAfterSeconds(wait), 10))
}

// retryAfterSeconds is wait in whole seconds, rounded up, at least 1.
func retryAfterSeconds(wait time.Duration) int64 {
	return max(int64((wait+time.Second-1)/time.Second), 1)
}

var keyRetryAfter = []byte("Retry-After")
