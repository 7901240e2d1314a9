package gateway

import (
	"strconv"
	"time"

	"github.com/fastgate/gateway/internal/httpx"
	"github.com/valyala/fasthttp"
)

// answer is an error the gateway answers with itself: the status, the
// message of its JSON body, and what else the answer says. A step that
// refuses a request returns one; the gateway writes it (writeRouteError).
// Answers are declared once, beside the step that gives them, and are
// compared by identity, so the request path never builds an error.
type answer struct {
	status int
	msg    string
	// source names what answered, for the access log and the request's
	// span, when it is not "error": "rate_limit", "breaker".
	source string
	// keepHeaders: the headers the step set on the response before it
	// returned the answer stand (the rate limit's RateLimit headers). Only
	// for a step that answers before anything reached the backend.
	keepHeaders bool
	// retry: a 503 says in Retry-After when the route's steps would admit
	// a request again (route.retryAfter), not a flat second.
	retry bool
	// headers are set on every answer of this kind (a WWW-Authenticate
	// challenge); a step that needs them per route builds its answers when
	// the route is built.
	headers []headerKV
}

func (a *answer) Error() string { return a.msg }

// StatusCode is the status the client gets.
func (a *answer) StatusCode() int { return a.status }

func newAnswer(status int, msg string) *answer { return &answer{status: status, msg: msg} }

// Answers of the request checks and the way to a backend, shared by
// several steps. The answers only one step gives are declared with it.
var (
	errNoRoute           = newAnswer(fasthttp.StatusNotFound, "no route matches")
	errUpstreamFailed    = newAnswer(fasthttp.StatusBadGateway, "upstream failed")
	errUpstreamTimeout   = newAnswer(fasthttp.StatusGatewayTimeout, "upstream timed out")
	errNoInstance        = newAnswer(fasthttp.StatusServiceUnavailable, "no upstream instance available")
	errUpstreamSaturated = newAnswer(fasthttp.StatusServiceUnavailable, "upstream connection pool exhausted")
	// errBreakerOpen: the breakers of every target of the route are
	// open (per: target); errRouteBreakerOpen is the route's own.
	errBreakerOpen      = &answer{status: fasthttp.StatusServiceUnavailable, msg: "circuit breaker open", source: "breaker", retry: true}
	errInternal         = newAnswer(fasthttp.StatusInternalServerError, "internal error")
	errUpstreamTooLarge = newAnswer(fasthttp.StatusBadGateway, "upstream response too large")
	// errUpstreamStatus: the upstream answered with a status of the
	// route's fallback.on_status. Never written: the chain answers, or
	// the upstream's answer stands.
	errUpstreamStatus = newAnswer(fasthttp.StatusBadGateway, "upstream answered with a fallback status")
	errBadPathParam   = newAnswer(fasthttp.StatusBadRequest, "a path parameter holds characters a destination cannot take")
	// Publishes: never a 2xx for a message the broker did not confirm.
	errBrokerUnavailable   = newAnswer(fasthttp.StatusServiceUnavailable, "broker unavailable")
	errPublishNotConfirmed = newAnswer(fasthttp.StatusServiceUnavailable, "broker did not confirm the message")
	errPublishTimeout      = newAnswer(fasthttp.StatusGatewayTimeout, "broker did not confirm the message in time")
	errNoResponders        = newAnswer(fasthttp.StatusServiceUnavailable, "no responders for subject")
)

// errStreamsBusy: the route's upstream.max_streamed_bodies requests with
// a streamed body are being forwarded already.
var errStreamsBusy = newAnswer(fasthttp.StatusServiceUnavailable, "too many streamed request bodies in flight; retry later")

// statusOf is the status the client gets for err: the one it carries, or
// 502 for anything else, which came from the way to the upstream.
func statusOf(err error) int {
	if s, ok := err.(interface{ StatusCode() int }); ok {
		return s.StatusCode()
	}
	return fasthttp.StatusBadGateway
}

// writeError answers with the gateway's own JSON error body:
// {"error": "...", "route": "..."}. Route names are restricted to
// [A-Za-z0-9_.-] by config validation and messages are constants, so
// nothing needs escaping.
func writeError(ctx *fasthttp.RequestCtx, err error, route string) {
	status := statusOf(err)
	a, _ := err.(*answer)
	resp := &ctx.Response
	if a != nil && a.keepHeaders {
		resp.ResetBody()
	} else {
		// Anything an upstream already put in the response must not leak
		// out, but a decision to close the connection stands.
		resetResponse(resp)
	}
	resp.SetStatusCode(status)
	resp.Header.SetContentType("application/json")
	resp.AppendBodyString(`{"error":"`)
	resp.AppendBodyString(err.Error())
	resp.AppendBodyString(`","route":"`)
	resp.AppendBodyString(route)
	resp.AppendBodyString("\"}\n")
	if a != nil {
		for i := range a.headers {
			resp.Header.SetBytesV(a.headers[i].key, a.headers[i].value)
		}
	}
	switch status {
	case fasthttp.StatusServiceUnavailable:
		resp.Header.SetCanonical(keyRetryAfter, one)
	case fasthttp.StatusMethodNotAllowed:
		resp.Header.Set("Allow", httpx.AllowedMethods)
	}
}

// writeRouteError is writeError for a request that route rt took. An
// answer that asks for it says in Retry-After when the route's steps would
// admit a request again (a breaker turning half-open): in seconds, rounded
// up, at least 1.
func writeRouteError(ctx *fasthttp.RequestCtx, err error, rt *route) {
	writeError(ctx, err, rt.name)
	if a, ok := err.(*answer); !ok || !a.retry {
		return
	}
	var buf [20]byte
	ctx.Response.Header.SetCanonical(keyRetryAfter, strconv.AppendInt(buf[:0], retryAfterSeconds(rt.retryAfter(time.Now())), 10))
}

// retryAfterSeconds is wait in whole seconds, rounded up, at least 1.
func retryAfterSeconds(wait time.Duration) int64 {
	return max(int64((wait+time.Second-1)/time.Second), 1)
}

var (
	keyRetryAfter = []byte("Retry-After")
	one           = []byte("1")
)
