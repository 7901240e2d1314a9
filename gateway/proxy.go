package gateway

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/breaker"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/internal/httpx"
	"github.com/fastgate/gateway/metrics"
	"github.com/fastgate/gateway/upstream"
)

// proxyStep forwards a request to one of the route's upstream targets and
// leaves the upstream's answer in ctx.Response. The request and response
// objects are fasthttp's own, reused in place: nothing is copied and a large
// body streams through in both directions.
type proxyStep struct {
	route   *route
	pool    *pool
	trusted *httpx.TrustedProxies
	// stripPrefix is removed from the path before forwarding; reqHeaders
	// are the route's request header rules.
	stripPrefix []byte
	reqHeaders  headerOps
	// breakers holds one breaker per target (circuit_breaker.per: target);
	// nil otherwise.
	breakers *breaker.Set
	// routeBreaker is the route's own breaker, told of answers that break
	// after their head; nil for none (and for a fallback's alternate).
	routeBreaker breakerRecorder
	// sendIdle is server.write_timeout, given to the writing of each
	// piece of a streamed answer (bodyWatch.BodyProgress).
	sendIdle time.Duration
	// ws turns WebSocket upgrades into tunnels; nil when the route has
	// them off (and for a fallback's alternate).
	ws *wsRoute
}

// newProxyStep forwards rt's requests to the pool of u.
func newProxyStep(b *routeBuild, u *config.Upstream) (*proxyStep, error) {
	p, err := newPool(u, b.d.clients, b.d.registry, b.d.check)
	if err != nil {
		return nil, err
	}
	rc := b.rc
	return &proxyStep{
		route: b.rt, pool: p, trusted: b.trusted,
		stripPrefix: []byte(rc.StripPrefix),
		reqHeaders:  newHeaderOps(rc.RequestHeaders.Set, rc.RequestHeaders.Remove),
		sendIdle:    b.cfg.Server.WriteTimeout,
	}, nil
}

// buildProxyStep builds an upstream route's backend, with the breakers the
// circuit_breaker step left.
func buildProxyStep(b *routeBuild) (step, error) {
	if b.rc.Upstream == nil {
		return nil, nil
	}
	p, err := newProxyStep(b, b.rc.Upstream)
	if err != nil {
		return nil, err
	}
	p.breakers, p.routeBreaker = b.targetBreakers, b.breaker
	if p.ws = newWSRoute(b); p.ws != nil {
		p.ws.watchTargets(p.pool)
	}
	return p, nil
}

func (p *proxyStep) wrap(handler) handler { return p.serve }

func (p *proxyStep) close() { p.pool.close() }

func (p *proxyStep) drainTime() time.Duration { return p.pool.settings.Timeout }

// retryAfter is the time until the first of the target breakers turns
// half-open; 0 without breakers per target.
func (p *proxyStep) retryAfter(now time.Time) time.Duration {
	if p.breakers == nil {
		return 0
	}
	return p.breakers.OpenRemaining(now)
}

// scratchSize fits a forwarded-for chain of a few proxies and a rewritten
// path on the stack; longer values spill to the heap, which is rare.
const scratchSize = 512

func (p *proxyStep) serve(ctx *fasthttp.RequestCtx) error {
	if p.ws != nil && ctx.Request.Header.ConnectionUpgrade() {
		return p.ws.serve(ctx, p)
	}
	p.prepareFrom(ctx)
	return p.forward(ctx, ctx.Time())
}

// prepareFrom is prepare for the client's own request. It is kept out of
// serve so that serve's frame, which stays on the stack while the request
// is forwarded, does not grow: an idle connection's goroutine keeps the
// stack its deepest request grew.
//
//go:noinline
func (p *proxyStep) prepareFrom(ctx *fasthttp.RequestCtx) {
	p.prepare(&ctx.Request, ctx.Path(), httpx.PeerAddr(ctx), httpx.SchemeOf(ctx))
}

// forward sends the prepared request to one of the pool's targets, within
// the pool's timeout counted from start, and leaves the answer in
// ctx.Response.
func (p *proxyStep) forward(ctx *fasthttp.RequestCtx, start time.Time) error {
	defer httpx.RestoreHTTP10(&ctx.Request.Header, httpx.UpstreamHTTP11(&ctx.Request.Header))
	if ctx.Request.IsBodyStream() {
		return p.forwardStream(ctx, start)
	}
	return p.attemptsCounted(ctx, start)
}

// forwardStream is forward for a request whose body streams in: a slow
// client's body holds its upstream connection while it trickles in, so
// such requests get a bounded share of the pool.
//
//go:noinline
func (p *proxyStep) forwardStream(ctx *fasthttp.RequestCtx, start time.Time) error {
	if !p.pool.takeStream() {
		p.route.metrics.UpstreamError(metrics.KindPoolExhausted)
		return errStreamsBusy
	}
	defer p.pool.doneStream()
	return p.attemptsCounted(ctx, start)
}

// attemptsCounted is attempts, counted in the pool's requests in flight
// when the pool retries.
func (p *proxyStep) attemptsCounted(ctx *fasthttp.RequestCtx, start time.Time) error {
	if p.pool.retries == 0 {
		// Only the retry budget reads inflight, and it is never asked.
		return p.attempts(ctx, start)
	}
	p.pool.inflight.Add(1)
	err := p.attempts(ctx, start)
	p.pool.inflight.Add(-1)
	return err
}

// attempts tries the pool's targets: a connect error (nothing reached the
// upstream) moves the request to another target while the route's
// retries, its deadline and the pool's retry budget allow. The first
// attempt is made here and what may follow it in moreAttempts, so that
// this frame, on the stack while the upstream answers, stays small.
func (p *proxyStep) attempts(ctx *fasthttp.RequestCtx, start time.Time) error {
	deadline := start.Add(p.pool.settings.Timeout)
	streamed := ctx.Request.IsBodyStream() // sending it uses it up
	t := p.pool.pick(start, nil)
	if t == nil {
		return p.noInstance(ctx)
	}
	rejected, err := p.attempt(ctx, t, deadline)
	if rejected || err != nil {
		return p.moreAttempts(ctx, start, deadline, streamed, t, rejected, err)
	}
	p.answered(ctx)
	return nil
}

// moreAttempts goes on from an attempt on t that t's breaker rejected
// or that failed with err.
//
//go:noinline
func (p *proxyStep) moreAttempts(ctx *fasthttp.RequestCtx, start, deadline time.Time, streamed bool, t *target, rejected bool, err error) error {
	retries := 0
	if p.pool.retries > 0 && (p.pool.settings.RetryNonIdempotent || upstream.Idempotent(&ctx.Request.Header)) {
		retries = p.pool.retries
	}
	retrying := false
	defer func() {
		if retrying {
			p.pool.doneRetry()
		}
	}()
	for attempt := 0; ; {
		if rejected {
			// This target's breaker is open: take one whose breaker still
			// admits calls. When none does, the route is open.
			if t = p.admitting(t.inst); t == nil {
				return errBreakerOpen
			}
			if rejected, err = p.attempt(ctx, t, deadline); rejected {
				return errBreakerOpen
			}
		}
		if err == nil {
			break
		}
		again, answer := p.failure(ctx, t, err, attempt < retries, retrying, deadline, streamed)
		if !again {
			return answer
		}
		retrying = true
		attempt++
		if t = p.pool.pick(start, t.inst); t == nil {
			return p.noInstance(ctx)
		}
		rejected, err = p.attempt(ctx, t, deadline)
	}
	p.answered(ctx)
	return nil
}

// noInstance answers a request for which the pool has no target.
func (p *proxyStep) noInstance(ctx *fasthttp.RequestCtx) error {
	p.route.metrics.UpstreamError(metrics.KindNoInstance)
	p.failed(ctx, nil, kindNoInstance, errNoInstance)
	return errNoInstance
}

// failure takes the error of an attempt on t: again when the request may
// go to another target (a connect error, so nothing reached the upstream,
// with a retry left, time left and the pool's retry budget), else the
// error the client gets. Not inlined: attempts' frame stays on the stack
// while the upstream answers.
//
//go:noinline
func (p *proxyStep) failure(ctx *fasthttp.RequestCtx, t *target, err error, retryLeft, retrying bool, deadline time.Time, streamed bool) (again bool, answer error) {
	rt := p.route
	kind := upstream.KindOf(err)
	if kind == upstream.Request {
		// The client's fault: not the upstream's.
		return false, clientFault(rt, streamed)
	}
	rt.metrics.UpstreamError(metricKind(kind))
	if kind == upstream.Connect && retryLeft && time.Now().Before(deadline) && (retrying || p.pool.takeRetry()) {
		p.failed(ctx, t, kind, nil)
		return true, nil
	}
	answer = upstreamError(kind)
	p.failed(ctx, t, kind, answer)
	return false, answer
}

// answered readies the upstream's answer for the client: hop-by-hop
// headers gone, the connection's own framing. Not inlined, as failure.
//
//go:noinline
func (p *proxyStep) answered(ctx *fasthttp.RequestCtx) {
	resp := &ctx.Response
	if httpx.ScanResponseHeaders(&resp.Header)&httpx.FlagHopByHop != 0 {
		httpx.StripResponseHopByHop(&resp.Header)
	}
	// The upstream closing its connection says nothing about the client's.
	// (Its X-Request-Id, if any, is replaced by the request's own with
	// every answer: answerRequestID.)
	resp.Header.ResetConnectionClose()
	if p.sendIdle > 0 && longAnswer(&resp.Header) {
		p.deadlinePerWrite(ctx)
	}
}

// deadlinePerWrite gives each write of ctx's long streamed answer a
// deadline of its own (bodyWatch.BodyProgress).
func (p *proxyStep) deadlinePerWrite(ctx *fasthttp.RequestCtx) {
	if w, ok := upstream.WatcherOf(&ctx.Response).(*bodyWatch); ok {
		w.conn, w.sendIdle = ctx.Conn(), p.sendIdle
	}
}

// attempt tries target t behind its breaker, if the route has per-target
// breakers. rejected means the breaker refused the call. A route without
// them whose request is neither logged nor traced goes straight to try.
func (p *proxyStep) attempt(ctx *fasthttp.RequestCtx, t *target, deadline time.Time) (rejected bool, err error) {
	if p.breakers == nil && requestInfo(ctx) == nil {
		return false, p.try(t, &ctx.Request, &ctx.Response, deadline)
	}
	return p.attemptObserved(ctx, t, deadline)
}

// attemptObserved is attempt for a route with per-target breakers or a
// request that is logged or traced: the bookkeeping for logs and spans.
//
//go:noinline
func (p *proxyStep) attemptObserved(ctx *fasthttp.RequestCtx, t *target, deadline time.Time) (rejected bool, err error) {
	ri := requestInfo(ctx)
	if ri == nil {
		return p.attemptOnce(ctx, t, deadline)
	}
	began := time.Now()
	rejected, err = p.attemptOnce(ctx, t, deadline)
	if rejected {
		ri.breakerRejected(t.inst.Addr, began)
	} else {
		ri.upstreamCall(t.inst.Addr, began, err)
	}
	return rejected, err
}

// attemptOnce is attempt without the bookkeeping for logs and spans.
func (p *proxyStep) attemptOnce(ctx *fasthttp.RequestCtx, t *target, deadline time.Time) (rejected bool, err error) {
	if p.breakers == nil {
		return false, p.try(t, &ctx.Request, &ctx.Response, deadline)
	}
	// The closure does not escape: Do calls it before returning.
	rejected = p.breakers.Get(t.inst.Addr).Do(func() (int, bool) {
		err = p.try(t, &ctx.Request, &ctx.Response, deadline)
		if err != nil {
			// Every failed attempt but a full pool or a request that
			// failed on the client's side says the target is unwell.
			k := upstream.KindOf(err)
			return 0, k != upstream.PoolExhausted && k != upstream.Request
		}
		return ctx.Response.StatusCode(), false
	})
	return rejected, err
}

// admitting returns a target other than skip whose breaker is not open,
// or nil. It runs only when a picked target's breaker was open.
func (p *proxyStep) admitting(skip *discovery.Instance) *target {
	ts := p.pool.targets()
	for i := range ts {
		if ts[i].inst != skip && p.breakers.Get(ts[i].inst.Addr).State() != breaker.Open {
			return &ts[i]
		}
	}
	return nil
}

// try makes one attempt on target t and keeps its passive health.
func (p *proxyStep) try(t *target, req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) error {
	if len(req.Header.Host()) == 0 {
		// HTTP/1.0 may come without Host; the upstream gets the target's,
		// as nginx sends $proxy_host.
		req.Header.SetHost(t.inst.Addr)
	}
	t.inst.Acquire()
	return p.tried(t, resp, t.client.Do(req, resp, deadline))
}

// tried takes the outcome err of an attempt on t into t's passive health
// and returns the attempt's error. Not inlined: try's frame stays on the
// stack while the upstream answers.
//
//go:noinline
func (p *proxyStep) tried(t *target, resp *fasthttp.Response, err error) error {
	broken := false
	if err == nil {
		if err = prefetch(resp); err != nil {
			resp.Reset()
			broken = true
		}
	}
	t.inst.Release()
	switch {
	case err == nil:
		if !p.watchAnswer(t, resp) {
			// A streamed answer's success is reported at its end.
			t.inst.ReportSuccess()
		}
	case broken, upstream.AfterHead(err), upstream.KindOf(err) == upstream.Connect:
		t.inst.ReportFailure(time.Now().UnixNano())
	}
	return err
}

// prepare turns the client's request into the one sent upstream, in place:
// path rewritten, hop-by-hop headers gone, forwarded headers and request id
// set, the route's header rules applied. proto is the scheme the client
// used (see schemeOf).
func (p *proxyStep) prepare(req *fasthttp.Request, path []byte, peer netip.Addr, proto string) {
	h := &req.Header
	var scratch [scratchSize]byte
	rewriteURI(req, path, p.stripPrefix, scratch[:0])
	f := httpx.ScanRequestHeaders(h)
	if f&httpx.FlagHopByHop != 0 {
		httpx.StripRequestHopByHop(h)
	}
	// The upstream connection is pooled whatever the client asked for its
	// own connection.
	h.ResetConnectionClose()
	httpx.SetForwarded(h, f, peer, proto, p.trusted, scratch[:0])
	switch {
	case f&httpx.FlagRequestID == 0 || len(h.PeekCanonical(keyRequestID)) == 0:
		h.SetCanonical(keyRequestID, httpx.AppendRequestID(scratch[:0]))
	case f&httpx.FlagRequestIDs != 0:
		// Several X-Request-Id lines: the upstream gets the first alone,
		// the one the client's answer carries.
		id := append(scratch[:0], h.PeekCanonical(keyRequestID)...)
		h.Del(httpx.HeaderRequestID)
		h.SetCanonical(keyRequestID, id)
	}
	p.reqHeaders.applyRequest(h)
	if hh := p.pool.settings.HostHeader; hh != "" {
		h.SetHost(hh)
	}
	// Send the Host header as set here, not the host of an absolute-form
	// request line.
	req.UseHostHeader = true
}

// failed records a failed attempt on target t (nil: no target to pick)
// for operators: a log line, at most one per errorLogEvery for each
// route, target and kind, and the access log's upstream_error. answer is
// the error the client gets, nil when another target is tried. Not on
// the success path.
func (p *proxyStep) failed(ctx *fasthttp.RequestCtx, t *target, kind upstream.Kind, answer error) {
	status := 0
	if answer != nil {
		status = statusOf(answer)
	}
	if t == nil {
		p.pool.noInstance.report(p.pool.log, p.route.name, "", kind, status, time.Now())
	} else {
		t.errs.report(p.pool.log, p.route.name, t.inst.Addr, kind, status, time.Now())
	}
	if ri := requestInfo(ctx); ri != nil {
		ri.upstreamErr = metricKind(kind).String()
		if kind == kindNoInstance {
			ri.upstreamErr = metrics.KindNoInstance.String()
		}
	}
}

// clientFault is the error for an attempt that failed because of the
// client's request. A streamed body's failure is told apart, answered and
// counted by withBodyLimit, which sees the body's own reader.
func clientFault(rt *route, streamed bool) error {
	if !streamed {
		rt.metrics.ClientError(metrics.ClientMalformed)
	}
	return httpx.ErrBadRequest
}

// upstreamError maps a failed attempt to the error the client gets.
func upstreamError(kind upstream.Kind) error {
	switch kind {
	case upstream.Timeout:
		return errUpstreamTimeout
	case upstream.PoolExhausted:
		return errUpstreamSaturated
	case upstream.TooLarge:
		return errUpstreamTooLarge
	default:
		return errUpstreamFailed
	}
}

func metricKind(k upstream.Kind) metrics.UpstreamErrorKind {
	switch k {
	case upstream.Connect:
		return metrics.KindConnect
	case upstream.Timeout:
		return metrics.KindTimeout
	case upstream.Reset:
		return metrics.KindReset
	case upstream.Protocol:
		return metrics.KindProtocol
	case upstream.PoolExhausted:
		return metrics.KindPoolExhausted
	case upstream.TooLarge:
		return metrics.KindTooLarge
	default:
		return metrics.KindOther
	}
}

// rewriteURI sets the request line's target for the upstream: the path
// the route matched (path, in normal form), without prefix, and the query
// as the client sent it.
//
// When the client's own path already was in normal form, the common case,
// its bytes are sent as they came, which spares re-encoding the whole URI.
// Otherwise (percent-encoding, dot segments, doubled slashes) the normal
// form the router saw is what goes upstream, so that an upstream never
// reads a path the gateway routed differently.
func rewriteURI(req *fasthttp.Request, path, prefix, scratch []byte) {
	raw := req.Header.RequestURI()
	rawPath, query := raw, []byte(nil)
	if i := bytes.IndexByte(raw, '?'); i >= 0 {
		rawPath, query = raw[:i], raw[i:]
	}
	if !bytes.Equal(rawPath, path) {
		if len(prefix) > 0 {
			stripPrefix(req, path, prefix, scratch)
		}
		return // fasthttp writes the parsed URI, normalized and encoded
	}
	if len(prefix) == 0 || !bytes.HasPrefix(path, prefix) {
		req.SetRequestURIBytes(raw)
		return
	}
	req.SetRequestURIBytes(append(appendStripped(scratch[:0], path, prefix), query...))
}

// stripPrefix removes prefix from the request's parsed path. The router
// matched path against the route, so it starts with prefix. What is left
// always starts with "/".
func stripPrefix(req *fasthttp.Request, path, prefix, scratch []byte) {
	if !bytes.HasPrefix(path, prefix) {
		return
	}
	req.URI().SetPathBytes(appendStripped(scratch[:0], path, prefix))
}

// appendStripped appends path without prefix, which it starts with, to
// dst: what is left, always starting with "/".
func appendStripped(dst, path, prefix []byte) []byte {
	rest := path[len(prefix):]
	if len(rest) == 0 || rest[0] != '/' {
		dst = append(dst, '/')
	}
	return append(dst, rest...)
}

// prefetch waits for the first bytes of resp's body, so that an upstream
// that breaks right after its head still gets the client a 502, not a
// cut answer; except for an event stream, whose head the client gets at
// once, not with its first event, which may be long in coming. Not
// inlined: try's frame is on the stack of every proxied request.
//
//go:noinline
func prefetch(resp *fasthttp.Response) error {
	if eventStream(&resp.Header) {
		resp.ImmediateHeaderFlush = true
		return nil
	}
	return upstream.Prefetch(resp)
}

// longAnswer reports whether the answer of head h may take long to write:
// one of unknown length (chunked, an event stream) or a large one. Its
// writes get a deadline each (bodyWatch.BodyProgress); a short answer
// keeps the server's one deadline, which costs nothing more.
func longAnswer(h *fasthttp.ResponseHeader) bool {
	cl := h.ContentLength()
	return cl < 0 || cl > longAnswerSize
}

// longAnswerSize is the size from which an answer's writes each get a
// deadline: a few writes of the server's buffer.
const longAnswerSize = 256 << 10

// eventStream reports whether h is the head of a server-sent event stream.
func eventStream(h *fasthttp.ResponseHeader) bool {
	return bytes.HasPrefix(h.ContentType(), textEventStream)
}

var textEventStream = []byte("text/event-stream")
