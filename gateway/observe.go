package gateway

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/accesslog"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/internal/httpx"
	"github.com/fastgate/gateway/tracing"
	"github.com/fastgate/gateway/upstream"
)

// Trace context headers (W3C).
const (
	hdrTraceparent = "traceparent"
	hdrTracestate  = "tracestate"
)

// observer is what the gateway does around each request for operators:
// the trace context passed on (and spans, when export is on) and the
// access log line. Built once at start; its parts need a restart to
// change.
type observer struct {
	tracer  *tracing.Tracer   // nil: no export
	log     *accesslog.Logger // nil: no access log
	logFile io.Closer         // the file log writes to, if it opened one
	query   bool
	headers []string
}

// newObserver builds the access log and tracer of cfg; out, when not nil,
// replaces the access log's configured output.
func newObserver(cfg *config.Config, out io.Writer) (*observer, error) {
	o := &observer{}
	if a := cfg.AccessLog; a != nil {
		o.query, o.headers = a.Query, a.Headers
		if out == nil {
			switch a.Output {
			case "stdout":
				out = os.Stdout
			case "stderr":
				out = os.Stderr
			default:
				f, err := os.OpenFile(a.Output, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
				if err != nil {
					return nil, fmt.Errorf("access_log.output: %w", err)
				}
				out, o.logFile = f, f
			}
		}
		format := accesslog.FormatJSON
		if a.Format == config.LogFormatCommon {
			format = accesslog.FormatCommon
		}
		l, err := accesslog.New(accesslog.Settings{Output: out, Format: format, Buffer: a.Buffer})
		if err != nil {
			o.close()
			return nil, fmt.Errorf("access_log: %w", err)
		}
		o.log = l
	}
	if t := cfg.Tracing; t != nil {
		tr, err := tracing.New(tracing.Settings{
			Endpoint: t.Endpoint, Insecure: t.Insecure, Ratio: *t.Ratio,
			ServiceName: t.ServiceName, Timeout: t.Timeout,
		})
		if err != nil {
			o.close()
			return nil, fmt.Errorf("tracing: %w", err)
		}
		o.tracer = tr
	}
	return o, nil
}

// close flushes the access log and the spans not yet exported.
func (o *observer) close() {
	if o.log != nil {
		_ = o.log.Close()
	}
	if o.logFile != nil {
		_ = o.logFile.Close()
	}
	if o.tracer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = o.tracer.Close(ctx)
	}
}

// reqInfo is what the steps of one request tell the access log and the
// tracer. It lives in the request's user values while the request runs.
type reqInfo struct {
	tracer *tracing.Tracer
	span   *tracing.Span
	// trace is the context passed on to the upstream; zero when none.
	trace tracing.SpanContext
	// fallback is the step of the fallback chain that answered, as
	// X-Fallback says it; "" when none did.
	fallback string
	// cur is the span of the step running now, under which the spans of
	// the steps below it start; nil: the request's span.
	cur *tracing.Span
	// reached is the deepest step of the route's pipeline the request
	// got to (traced requests only).
	reached     int
	upstream    string
	upstreamDur time.Duration
	// target holds the client's path, then its query when the log takes
	// it, copied before a step (strip_prefix, a rewrite) changes them;
	// pathLen is where the path ends. Its buffer stays with the pooled
	// reqInfo.
	target  []byte
	pathLen int
	// answeredBy names a step that answered by writing the response
	// itself without being a backend (a CORS preflight, a forward-auth
	// refusal), for the access log's source; "" when none did.
	answeredBy string
	// upstreamErr is the kind of the last failed upstream attempt, as
	// gateway_upstream_errors_total names it; "" when none failed.
	upstreamErr string
}

// reqInfoKey is the user value key of a request's *reqInfo.
const reqInfoKey = "gateway.reqinfo"

// requestInfo returns the request's reqInfo, or nil when nothing
// observes the request.
func requestInfo(ctx *fasthttp.RequestCtx) *reqInfo {
	ri, _ := ctx.UserValue(reqInfoKey).(*reqInfo)
	return ri
}

// begin passes the request's trace context on: a valid traceparent is
// replaced by the gateway's own (same trace, the gateway's span id), a
// malformed one is dropped with its tracestate. It starts the request's
// span when export is on and the trace is sampled. It returns the
// request's reqInfo when the request is logged or traced, else nil; end
// gives it back.
func (o *observer) begin(ctx *fasthttp.RequestCtx, logged bool) *reqInfo {
	h := &ctx.Request.Header
	var parent tracing.SpanContext
	if tp := h.PeekCanonical(keyTraceparent); len(tp) > 0 {
		var ok bool
		if parent, ok = tracing.ParseTraceparent(tp); !ok {
			h.Del(hdrTraceparent)
			h.Del(hdrTracestate)
		} else if ts := h.PeekCanonical(keyTracestate); len(ts) > 0 && !tracing.ValidTracestate(ts) {
			h.Del(hdrTracestate)
		}
	}
	span := o.tracer.Start("gateway request", parent, ctx.Time())
	var out tracing.SpanContext
	if parent.IsValid() || span != nil {
		var buf [64]byte
		out = span.Outgoing(parent)
		h.SetCanonical(keyTraceparent, out.AppendTraceparent(buf[:0]))
	}
	if span == nil && !logged {
		return nil
	}
	ri := reqInfoPool.Get().(*reqInfo)
	target := ri.target[:0]
	*ri = reqInfo{tracer: o.tracer, span: span, trace: out}
	if logged {
		target = append(target, ctx.Path()...)
		ri.pathLen = len(target)
		if o.query {
			target = append(target, ctx.URI().QueryString()...)
		}
	}
	ri.target = target
	ctx.SetUserValue(reqInfoKey, ri)
	return ri
}

var reqInfoPool = sync.Pool{New: func() any { return new(reqInfo) }}

// answerRequestID puts the request's id on the answer: the client's
// X-Request-Id (the first, when it sent several), or a new one, which the
// request then carries too, for the access log. Every answer the gateway
// gives, its own errors and fallbacks included, goes through here once it
// is written, whatever the access log's setting.
func answerRequestID(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	id := h.PeekCanonical(keyRequestID)
	if len(id) == 0 {
		var buf [40]byte
		h.SetCanonical(keyRequestID, httpx.AppendRequestID(buf[:0]))
		id = h.PeekCanonical(keyRequestID)
	}
	ctx.Response.Header.SetCanonical(keyRequestID, id)
}

// Header names as fasthttp stores them (first letter and each one after
// a dash upper case), for SetCanonical and PeekCanonical: they skip the
// normalizing copy of the name that Set and Peek make on every call. The
// server normalizes the names of the headers it reads, so a client's
// header is found by its canonical name whatever case it was sent in.
var (
	keyRequestID   = []byte("X-Request-Id")
	keyTraceparent = []byte("Traceparent")
	keyTracestate  = []byte("Tracestate")
)

// end finishes the request's span, writes its access log line (finish)
// and gives ri back. For an upstream answer whose body is still to be
// written this happens when the body ends (see bodyWatch), so that the
// line and the span say whether the upstream broke it.
func (o *observer) end(ctx *fasthttp.RequestCtx, ri *reqInfo, rt *route, trusted *httpx.TrustedProxies, err error, logged bool) {
	if w, ok := upstream.WatcherOf(&ctx.Response).(*bodyWatch); ok && err == nil && w.ctx == ctx {
		w.obs, w.ri, w.rt, w.trusted, w.logged = o, ri, rt, trusted, logged
		return
	}
	o.endNow(ctx, ri, rt, trusted, err, logged)
}

// endNow is end, now.
func (o *observer) endNow(ctx *fasthttp.RequestCtx, ri *reqInfo, rt *route, trusted *httpx.TrustedProxies, err error, logged bool) {
	o.finish(ctx, ri, rt, trusted, err, logged)
	ctx.RemoveUserValue(reqInfoKey)
	*ri = reqInfo{target: ri.target[:0]}
	reqInfoPool.Put(ri)
}

// finish ends the request's span with its outcome and, when the request
// is logged, writes its access log line.
func (o *observer) finish(ctx *fasthttp.RequestCtx, ri *reqInfo, rt *route, trusted *httpx.TrustedProxies, err error, logged bool) {
	now := time.Now()
	status := ctx.Response.StatusCode()
	source := answerSource(ri, rt, err)
	if sp := ri.span; sp != nil {
		if rt != nil {
			sp.SetString("gateway.route", rt.name)
		}
		sp.SetInt("http.response.status_code", int64(status))
		sp.SetString("gateway.answered_by", source)
		if err != nil {
			sp.SetError(err.Error())
		}
		sp.End(now)
	}
	if !logged {
		return
	}
	var e accesslog.Entry
	h := &ctx.Request.Header
	var client [64]byte
	var trace [32]byte
	e.Time = ctx.Time()
	e.RequestID = h.PeekCanonical(keyRequestID) // answerRequestID ran first
	if ri.trace.IsValid() {
		e.TraceID = ri.trace.AppendTraceID(trace[:0])
	}
	e.Client = httpx.ClientAddr(ctx, trusted).AppendTo(client[:0])
	// The path and query as the client sent them (in normal form), not
	// as strip_prefix or a rewrite left them.
	e.Method, e.Host, e.Path, e.Proto = ctx.Method(), h.Host(), ri.target[:ri.pathLen], h.Protocol()
	if o.query {
		e.Query = ri.target[ri.pathLen:]
	}
	if ctx.IsTLS() {
		e.TLSVersion, e.SNI = tlsFields(ctx)
	}
	if rt != nil {
		e.Route = rt.name
	}
	e.Consumer = bytesOf(callerName(ctx))
	e.Status = status
	e.BytesIn = int64(h.ContentLength())
	e.BytesOut = int64(ctx.Response.Header.ContentLength())
	if !ctx.Response.IsBodyStream() {
		e.BytesOut = int64(len(ctx.Response.Body()))
	}
	e.Duration = now.Sub(ctx.Time())
	e.Upstream, e.UpstreamDuration = ri.upstream, ri.upstreamDur
	e.Source = source
	if err != nil {
		e.Error = err.Error()
	}
	e.UpstreamError = ri.upstreamErr
	var hdrs [8]accesslog.Header
	e.Headers = hdrs[:0]
	for _, name := range o.headers {
		if v := h.Peek(name); len(v) > 0 && len(e.Headers) < cap(hdrs) {
			e.Headers = append(e.Headers, accesslog.Header{Name: name, Value: v})
		}
	}
	o.log.Log(&e)
}

// answerSource says what answered a request, for logs and spans: the
// answer that refused it (its source, else "error"), the step of the
// fallback chain that answered, or the route's backend. An upstream's own
// 429 is the upstream's answer, never the rate limit's.
func answerSource(ri *reqInfo, rt *route, err error) string {
	if err != nil || rt == nil {
		if a, ok := err.(*answer); ok && a.source != "" {
			return a.source
		}
		return "error"
	}
	if ri.answeredBy != "" {
		return ri.answeredBy
	}
	switch ri.fallback {
	case fallbackCache:
		return "cache"
	case fallbackStatic:
		return "static"
	case fallbackUpstream:
		return "fallback_upstream"
	}
	return rt.source
}

// sampled decides whether the route logs this request.
func (rt *route) sampled() bool {
	switch {
	case rt.logRate >= 1:
		return true
	case rt.logRate <= 0:
		return false
	}
	return rand.Float64() < rt.logRate
}

// logRate is the share of a route's requests logged: its access_log
// sample, 0 when off.
func logRate(rc *config.Route) float64 {
	a := rc.AccessLog
	switch {
	case a == nil:
		return 1
	case a.Off:
		return 0
	case a.Sample != nil:
		return *a.Sample
	}
	return 1
}

// stepSpan starts a span of the gateway's own work at start, under the
// span of the step running now; nil (whose methods do nothing) when ri is
// nil or the request records no spans.
func (ri *reqInfo) stepSpan(name string, start time.Time) *tracing.Span {
	if ri == nil || ri.span == nil {
		return nil
	}
	parent := ri.span
	if ri.cur != nil {
		parent = ri.cur
	}
	return ri.tracer.Start(name, parent.Context(), start)
}

// pick returns yes when cond holds, else no.
func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

// upstreamCall records one attempt on an upstream target for the access
// log, and as a span of its own when the request is traced.
func (ri *reqInfo) upstreamCall(addr string, began time.Time, err error) {
	now := time.Now()
	ri.upstream, ri.upstreamDur = addr, now.Sub(began)
	if ri.span == nil {
		return
	}
	sp := ri.stepSpan("upstream "+addr, began)
	sp.SetString("server.address", addr)
	if err != nil {
		sp.SetError(err.Error())
	}
	sp.End(now)
}

// routeMatched records the request's checks and route lookup, from the
// request's start until now, as a span. Not inlined: it would grow the
// frame of Gateway.handle, which every request's stack holds.
//
//go:noinline
func (ri *reqInfo) routeMatched(ctx *fasthttp.RequestCtx, rt *route) {
	sp := ri.stepSpan("route match", ctx.Time())
	sp.SetString("gateway.route", rt.name)
	sp.End(time.Now())
}

// breakerRejected records, as a span when the request is traced, that
// the breaker of target addr refused an attempt.
func (ri *reqInfo) breakerRejected(addr string, began time.Time) {
	if ri.span == nil {
		return
	}
	sp := ri.stepSpan("circuit breaker", began)
	sp.SetString("server.address", addr)
	sp.SetString("gateway.breaker.outcome", "rejected")
	sp.SetError(errBreakerOpen.Error())
	sp.End(time.Now())
}
