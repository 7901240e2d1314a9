package gateway

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/internal/httpx"
	"github.com/fastgate/gateway/metrics"
	"github.com/fastgate/gateway/upstream"
)

// errorLogEvery is how often at most one line is logged per route,
// target and kind of upstream failure; the lines left out in between are
// counted in the next one.
const errorLogEvery = 10 * time.Second

// kindNoInstance is the errorLog slot of "no instance to pick", a
// failure of the route's whole pool rather than of one target.
const kindNoInstance = upstream.Request + 1

// errorLog rate-limits the log lines about the failures of one upstream
// target (or, for no_instance, of one pool). Safe for concurrent use;
// reporting a failure that is not logged costs three atomic operations.
type errorLog struct {
	kinds [kindNoInstance + 1]logWindow
	// tlsErr, for a target reached over TLS, returns the last failed
	// handshake's error, whose reason a connect failure's line names.
	tlsErr func() error
	// dialErr returns the target's last failed dial (refused, no such
	// host), whose text a connect failure's line carries as error.
	dialErr func() error
	// dialNote is why a tunnel's own dial to the target failed (tunnels
	// do not dial through the pool), taken by the next report, which
	// names it instead of the pool's errors.
	dialNote atomic.Pointer[error]
}

// noteDial records why a tunnel's dial to the target failed, for the
// line that reports the failure.
func (l *errorLog) noteDial(err error) {
	if l != nil {
		l.dialNote.Store(&err)
	}
}

// logWindow is the state of one kind of failure.
type logWindow struct {
	next       atomic.Int64 // UnixNano before which lines are left out
	suppressed atomic.Int64 // lines left out since the last one
}

// report logs that route's request to target failed with kind, unless a
// line about the same failure was logged within errorLogEvery. status is
// what the client got (0: not decided yet, e.g. a failure mid-body).
func (l *errorLog) report(log *slog.Logger, route, target string, kind upstream.Kind, status int, now time.Time) {
	if l == nil || log == nil || int(kind) >= len(l.kinds) {
		return
	}
	note := l.dialNote.Swap(nil)
	w := &l.kinds[kind]
	n := now.UnixNano()
	next := w.next.Load()
	if n < next || !w.next.CompareAndSwap(next, n+int64(errorLogEvery)) {
		w.suppressed.Add(1)
		return
	}
	reason := kind.String()
	if kind == kindNoInstance {
		reason = "no_instance"
	}
	var cause error
	if note != nil {
		cause = *note
	} else if kind == upstream.Connect {
		if tr := tlsReason(l.tlsErr); tr != "" {
			reason = "tls: " + tr
		} else if l.dialErr != nil {
			cause = l.dialErr()
		}
	}
	if cause != nil {
		log.Warn("gateway: upstream request failed",
			"route", route, "target", target, "reason", reason, "error", cause.Error(),
			"status", status, "suppressed", w.suppressed.Swap(0))
		return
	}
	log.Warn("gateway: upstream request failed",
		"route", route, "target", target, "reason", reason, "status", status,
		"suppressed", w.suppressed.Swap(0))
}

// bodyWatch learns how an upstream answer's streamed body ended, after
// the handler returned and while the server wrote it to the client. An
// answer the upstream broke there (reset, bad chunk, cut short) is
// counted as the upstream failure it is: the upstream error counter, the
// breakers, passive health and the log. Pooled: one per streamed answer.
type bodyWatch struct {
	p      *proxyStep
	t      *target
	status int
	// count: the request is counted in gateway_requests_total here, when
	// its body ends, rather than when its handler returned.
	count  bool
	method metrics.Method
	// ctx is the request, set with count; obs and the rest, when set, are
	// the request's observer.end, run when the body ends.
	ctx     *fasthttp.RequestCtx
	obs     *observer
	ri      *reqInfo
	rt      *route
	trusted *httpx.TrustedProxies
	logged  bool
	// conn is the client's connection, and sendIdle server.write_timeout:
	// the writing of each piece of the body gets sendIdle of its own (see
	// BodyProgress). nil: the server's one deadline for the whole answer.
	conn     net.Conn
	sendIdle time.Duration
}

// BodyProgress implements upstream.ProgressWatcher: a streamed answer is
// cut when the client takes longer than server.write_timeout to take one
// piece of it, not when the whole of it takes longer (as nginx's
// send_timeout), so that an event stream or a long download that keeps
// moving is never cut short.
func (w *bodyWatch) BodyProgress() {
	if w.conn != nil {
		_ = w.conn.SetWriteDeadline(time.Now().Add(w.sendIdle))
	}
}

// errUpstreamAborted is the access log's and span's error of an answer
// the upstream broke after its head; the client's connection was closed.
var errUpstreamAborted = errors.New("upstream broke its answer after the head")

// countsAtEnd hands the counting of ctx's answer in gateway_requests_total
// to the watcher of its streamed body, if it has one: it is counted when
// the body ends, with code "aborted" when the upstream broke it. false:
// the caller counts it now.
func countsAtEnd(ctx *fasthttp.RequestCtx) bool {
	w, ok := upstream.WatcherOf(&ctx.Response).(*bodyWatch)
	if !ok {
		return false
	}
	w.count, w.method, w.ctx = true, metrics.MethodOf(ctx.Method()), ctx
	return true
}

var _ upstream.ProgressWatcher = (*bodyWatch)(nil)

var bodyWatches = sync.Pool{New: func() any { return new(bodyWatch) }}

// watchAnswer attaches a bodyWatch to the streamed body of resp, which
// target t sent, and reports whether it did.
func (p *proxyStep) watchAnswer(t *target, resp *fasthttp.Response) bool {
	if !resp.IsBodyStream() {
		return false
	}
	w := bodyWatches.Get().(*bodyWatch)
	*w = bodyWatch{p: p, t: t, status: resp.StatusCode()}
	if !upstream.Watch(resp, w) {
		*w = bodyWatch{}
		bodyWatches.Put(w)
		return false
	}
	return true
}

// BodyEnded implements upstream.BodyWatcher.
func (w *bodyWatch) BodyEnded(err error) {
	p, t, status, count, method := w.p, w.t, w.status, w.count, w.method
	ctx, obs, ri, wrt, trusted, logged := w.ctx, w.obs, w.ri, w.rt, w.trusted, w.logged
	*w = bodyWatch{}
	bodyWatches.Put(w)
	rt := p.route
	kind := upstream.KindOf(err)
	switch kind {
	case upstream.None:
		t.inst.ReportSuccess()
		fallthrough
	default: // complete, or the client stopped reading: nothing of the upstream
		if count {
			rt.metrics.RequestOf(method, status)
		}
		if obs != nil {
			obs.endNow(ctx, ri, wrt, trusted, nil, logged)
		}
		return
	case upstream.Reset, upstream.Protocol, upstream.Timeout, upstream.TooLarge:
	}
	if count {
		rt.metrics.RequestOf(method, metrics.CodeAborted)
	}
	if obs != nil {
		ri.upstreamErr = metricKind(kind).String()
		obs.endNow(ctx, ri, wrt, trusted, errUpstreamAborted, logged)
	}
	rt.metrics.UpstreamError(metricKind(kind))
	now := time.Now()
	t.inst.ReportFailure(now.UnixNano())
	if p.breakers != nil {
		p.breakers.Get(t.inst.Addr).Record(0, true)
	}
	if p.routeBreaker != nil {
		p.routeBreaker.Record(0, true)
	}
	t.errs.report(p.pool.log, rt.name, t.inst.Addr, kind, status, now)
}
