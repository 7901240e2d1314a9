package gateway

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/internal/httpx"
	"github.com/fastgate/gateway/metrics"
	"github.com/fastgate/gateway/upstream"
)

// Answers of WebSocket upgrades.
var (
	errBadUpgrade     = newAnswer(fasthttp.StatusBadRequest, "malformed websocket upgrade (want GET, HTTP/1.1, no body, a valid Sec-WebSocket-Key)")
	errOriginRefused  = newAnswer(fasthttp.StatusForbidden, "websocket origin not allowed")
	errTunnelsBusy    = newAnswer(fasthttp.StatusServiceUnavailable, "too many websocket tunnels open on this route; retry later")
	errTunnelsClosing = newAnswer(fasthttp.StatusServiceUnavailable, "gateway shutting down")
)

// maxUpgradeHead bounds the upstream's answer head to an upgrade, as
// upstream.Settings.MaxResponseHeaderBytes does for other requests.
const maxUpgradeHead = 16 << 10

// maxUpgradeRefusal bounds the body of an upstream's non-101 answer to an
// upgrade when the route sets no upstream.max_response_size: such an
// answer is read whole before it is passed on.
const maxUpgradeRefusal = 1 << 20

// wsRoute is what an upstream route with WebSocket on holds for its
// tunnels: the settings, the count of tunnels open (max_tunnels) and the
// series. Shared by the route's requests and tunnels; carried over with
// the route.
type wsRoute struct {
	route    *route
	reg      *tunnels // nil when only checking a configuration
	origins  originList
	max      int64
	idle     time.Duration
	lifetime time.Duration
	drain    time.Duration
	bufSize  int
	open     atomic.Int64
	m        *metrics.Tunnels
	// retired: the route left service; a tunnel added now is drained at
	// once. Guarded by reg.mu.
	retired bool
	bufs    sync.Pool
}

// newWSRoute returns the WebSocket part of the upstream route being
// built, or nil when the route has it off.
func newWSRoute(b *routeBuild) *wsRoute {
	s := config.WebSocketOf(b.rc)
	if !s.On() {
		return nil
	}
	w := &wsRoute{
		route:    b.rt,
		reg:      b.d.tunnels,
		origins:  newOriginList(s.AllowedOrigins),
		max:      int64(s.MaxTunnels),
		idle:     s.IdleTimeout,
		lifetime: s.MaxLifetime,
		drain:    *s.DrainDelay,
		bufSize:  int(s.BufferSize),
		m:        b.rt.metrics.Tunnels(),
	}
	w.bufs.New = func() any { b := make([]byte, w.bufSize); return &b }
	return w
}

// watchTargets has the route's tunnels to a target that leaves the
// pool's instances drained.
func (w *wsRoute) watchTargets(p *pool) {
	if w.reg == nil {
		return
	}
	p.mu.Lock()
	p.onLeave = func(addr string) { w.reg.targetLeft(w, addr) }
	p.mu.Unlock()
}

// serve answers an upgrade request. One that does not ask for WebSocket
// goes the plain way, its upgrade headers dropped as hop-by-hop. Kept
// out of proxyStep.serve so that its frame stays small.
//
//go:noinline
func (w *wsRoute) serve(ctx *fasthttp.RequestCtx, p *proxyStep) error {
	h := &ctx.Request.Header
	proto := h.Peek(fasthttp.HeaderUpgrade)
	if !bytes.EqualFold(proto, []byte("websocket")) {
		p.prepareFrom(ctx)
		return p.forward(ctx, ctx.Time())
	}
	if !validUpgrade(h) {
		w.route.metrics.ClientError(metrics.ClientMalformed)
		return errBadUpgrade
	}
	if origin := h.Peek("Origin"); len(origin) > 0 && !w.origins.allows(origin) {
		return errOriginRefused
	}
	if w.open.Add(1) > w.max {
		w.open.Add(-1)
		return errTunnelsBusy
	}
	t, err := w.handshake(ctx, p)
	if t == nil {
		w.open.Add(-1)
		return err
	}
	if !w.reg.add(t) {
		t.up.Close()
		w.open.Add(-1)
		return errTunnelsClosing
	}
	ctx.Hijack(t.run)
	return nil
}

// validUpgrade reports whether an upgrade to WebSocket is one RFC 6455
// allows: a GET over HTTP/1.1 without a body, with a Sec-WebSocket-Key
// of 16 bytes in base64.
func validUpgrade(h *fasthttp.RequestHeader) bool {
	// fasthttp reads an upgrade without Content-Length as one whose body
	// runs to the end of the connection (-2): that is the tunnel's.
	if cl := h.ContentLength(); !h.IsGet() || !h.IsHTTP11() || cl > 0 || cl == -1 {
		return false
	}
	key := h.Peek("Sec-WebSocket-Key")
	var raw [18]byte
	n, err := base64.StdEncoding.Decode(raw[:], key)
	return len(key) == 24 && err == nil && n == 16
}

// handshake sends the upgrade to one of the route's targets on a
// connection of its own, never one of the pool's. On a 101 it leaves the
// upstream's answer in ctx.Response and returns the tunnel to run; on any
// other answer it leaves that answer (t nil, err nil); on failure the
// error the client gets.
func (w *wsRoute) handshake(ctx *fasthttp.RequestCtx, p *proxyStep) (*tunnel, error) {
	proto := append([]byte(nil), ctx.Request.Header.Peek(fasthttp.HeaderUpgrade)...)
	p.prepareFrom(ctx)
	h := &ctx.Request.Header
	h.Set(fasthttp.HeaderConnection, "Upgrade")
	h.SetBytesV(fasthttp.HeaderUpgrade, proto)
	start := ctx.Time()
	deadline := start.Add(p.pool.settings.Timeout)
	retries := p.pool.retries
	var skip *discovery.Instance
	for attempt := 0; ; attempt++ {
		inst := p.pool.pick(start, skip)
		if inst == nil {
			w.route.metrics.UpstreamError(metrics.KindNoInstance)
			p.failed(ctx, nil, kindNoInstance, errNoInstance)
			return nil, errNoInstance
		}
		t, kind, err := w.attempt(ctx, p, inst, deadline)
		if err == nil {
			return t, nil
		}
		if kind == kindRejected {
			return nil, errBreakerOpen
		}
		w.route.metrics.UpstreamError(metricKind(kind))
		if kind == upstream.Connect && attempt < retries && time.Now().Before(deadline) {
			p.failed(ctx, inst, kind, nil)
			skip = inst.inst
			continue
		}
		p.failed(ctx, inst, kind, err)
		return nil, err
	}
}

// kindRejected: the target's breaker refused the attempt.
const kindRejected = upstream.Kind(255)

// attempt makes one handshake with target tg, behind its breaker when
// the route has breakers per target.
func (w *wsRoute) attempt(ctx *fasthttp.RequestCtx, p *proxyStep, tg *target, deadline time.Time) (t *tunnel, kind upstream.Kind, err error) {
	if p.breakers == nil {
		return w.exchange(ctx, p, tg, deadline)
	}
	rejected := p.breakers.Get(tg.inst.Addr).Do(func() (int, bool) {
		t, kind, err = w.exchange(ctx, p, tg, deadline)
		if err != nil {
			return 0, true
		}
		return ctx.Response.StatusCode(), false
	})
	if rejected {
		return nil, kindRejected, errBreakerOpen
	}
	return t, kind, err
}

// exchange dials tg, writes the upgrade and reads the answer: a 101 makes
// the tunnel; another answer is left in ctx.Response whole.
func (w *wsRoute) exchange(ctx *fasthttp.RequestCtx, p *proxyStep, tg *target, deadline time.Time) (*tunnel, upstream.Kind, error) {
	req, resp := &ctx.Request, &ctx.Response
	if len(req.Header.Host()) == 0 {
		req.Header.SetHost(tg.inst.Addr)
	}
	tg.inst.Acquire()
	defer tg.inst.Release()
	dialFor := min(time.Until(deadline), p.pool.settings.ConnectTimeout)
	conn, err := net.DialTimeout("tcp", tg.inst.Addr, dialFor)
	if err != nil {
		tg.errs.noteDial(err)
	} else if p.pool.tls != nil { // an https:// upstream (tls_upstream.go)
		conn, err = tunnelTLS(conn, p.pool.tls, tg.inst.Addr, deadline)
	}
	if err != nil {
		tg.inst.ReportFailure(time.Now().UnixNano())
		if isTimeoutErr(err) && !time.Now().Before(deadline) {
			return nil, upstream.Timeout, errUpstreamTimeout
		}
		return nil, upstream.Connect, errUpstreamFailed
	}
	fail := func(kind upstream.Kind, answer error) (*tunnel, upstream.Kind, error) {
		conn.Close()
		resp.Reset()
		return nil, kind, answer
	}
	_ = conn.SetDeadline(deadline)
	// The head alone: what follows it on the client's connection is the
	// tunnel's, not a body. The request line takes the rewritten path.
	req.Header.SetRequestURIBytes(req.URI().RequestURI())
	bw := bufio.NewWriterSize(conn, 4<<10)
	if err := req.Header.Write(bw); err != nil {
		return fail(ioKind(err), ioAnswer(err))
	}
	if err := bw.Flush(); err != nil {
		return fail(ioKind(err), ioAnswer(err))
	}
	br := bufio.NewReaderSize(conn, maxUpgradeHead)
	if kind, err := readUpgradeAnswer(br, resp, deadline); err != nil {
		return fail(kind, err)
	}
	if resp.StatusCode() != fasthttp.StatusSwitchingProtocols {
		// A refusal (401, 404, 426...) is passed on as any answer.
		if kind, err := readRefusal(br, resp, p.pool.settings.MaxResponseSize, deadline); err != nil {
			return fail(kind, err)
		}
		conn.Close()
		tg.inst.ReportSuccess()
		finishAnswer(resp, req)
		return nil, 0, nil
	}
	if !bytes.EqualFold(resp.Header.Peek(fasthttp.HeaderUpgrade), []byte("websocket")) {
		return fail(upstream.Protocol, errUpstreamFailed)
	}
	tg.inst.ReportSuccess()
	_ = conn.SetDeadline(time.Time{})
	finishAnswer(resp, req)
	resp.Header.Set(fasthttp.HeaderConnection, "Upgrade")
	resp.Header.Set(fasthttp.HeaderUpgrade, "websocket")
	t := &tunnel{ws: w, addr: tg.inst.Addr, up: conn}
	if n := br.Buffered(); n > 0 {
		// Frames the upstream sent right behind its 101.
		b, _ := br.Peek(n)
		t.early = bytes.Clone(b)
	}
	return t, 0, nil
}

// readUpgradeAnswer reads the head of the upstream's final answer to an
// upgrade (a 101 or a status of 200 and above) into resp, skipping other
// interim answers.
func readUpgradeAnswer(br *bufio.Reader, resp *fasthttp.Response, deadline time.Time) (upstream.Kind, error) {
	for interim := 0; ; interim++ {
		if err := resp.Header.Read(br); err != nil {
			if isTimeoutErr(err) || !time.Now().Before(deadline) {
				return upstream.Timeout, errUpstreamTimeout
			}
			return upstream.Protocol, errUpstreamFailed
		}
		code := resp.StatusCode()
		if code >= 200 || code == fasthttp.StatusSwitchingProtocols {
			return 0, nil
		}
		if interim >= 16 {
			return upstream.Protocol, errUpstreamFailed
		}
	}
}

// readRefusal reads the body of an answer to an upgrade that is not a
// 101, up to bound (upstream.max_response_size; 0: maxUpgradeRefusal).
func readRefusal(br *bufio.Reader, resp *fasthttp.Response, bound config.ByteSize, deadline time.Time) (upstream.Kind, error) {
	limit := maxUpgradeRefusal
	if bound > 0 {
		limit = int(min(int64(bound), int64(^uint(0)>>1)))
	}
	err := resp.ReadBody(br, limit)
	switch {
	case err == nil:
		return 0, nil
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return upstream.TooLarge, errUpstreamTooLarge
	case isTimeoutErr(err) || !time.Now().Before(deadline):
		return upstream.Timeout, errUpstreamTimeout
	default:
		return upstream.Reset, errUpstreamFailed
	}
}

// finishAnswer makes the upstream's answer head the client's: hop-by-hop
// headers dropped, the request id set.
func finishAnswer(resp *fasthttp.Response, req *fasthttp.Request) {
	httpx.StripResponseHopByHop(&resp.Header)
	resp.Header.ResetConnectionClose()
	if !resp.Header.IsHTTP11() {
		resp.Header.SetProtocol([]byte("HTTP/1.1"))
	}
	resp.Header.SetBytesV(httpx.HeaderRequestID, req.Header.Peek(httpx.HeaderRequestID))
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func ioKind(err error) upstream.Kind {
	if isTimeoutErr(err) {
		return upstream.Timeout
	}
	return upstream.Reset
}

func ioAnswer(err error) error {
	if isTimeoutErr(err) {
		return errUpstreamTimeout
	}
	return errUpstreamFailed
}

// originList is a route's allowed_origins, compiled: exact origins, and
// patterns with one wildcard. Empty allows every origin.
type originList struct {
	any      bool
	exact    map[string]bool
	patterns [][2]string // before and after the "*"
}

func newOriginList(list []string) originList {
	o := originList{any: len(list) == 0, exact: map[string]bool{}}
	for _, s := range list {
		s = strings.ToLower(s)
		switch before, after, wild := strings.Cut(s, "*"); {
		case s == "*":
			o.any = true
		case wild:
			o.patterns = append(o.patterns, [2]string{before, after})
		default:
			o.exact[s] = true
		}
	}
	return o
}

// allows reports whether origin, as a browser sent it, is allowed. A
// wildcard stands for one or more host labels.
func (o *originList) allows(origin []byte) bool {
	if o.any {
		return true
	}
	s := strings.ToLower(string(origin))
	if o.exact[s] {
		return true
	}
	for _, p := range o.patterns {
		if len(s) <= len(p[0])+len(p[1]) || !strings.HasPrefix(s, p[0]) || !strings.HasSuffix(s, p[1]) {
			continue
		}
		mid := s[len(p[0]) : len(s)-len(p[1])]
		if strings.Trim(mid, "abcdefghijklmnopqrstuvwxyz0123456789-.") == "" && mid[0] != '.' && mid[len(mid)-1] != '.' {
			return true
		}
	}
	return false
}
