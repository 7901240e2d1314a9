package gateway

import (
	"bytes"
	"net/netip"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/discovery"
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
	trusted *trustedProxies
}

// scratchSize fits a forwarded-for chain of a few proxies and a rewritten
// path on the stack; longer values spill to the heap, which is rare.
const scratchSize = 512

func (p *proxyStep) serve(ctx *fasthttp.RequestCtx) error {
	rt := p.route
	req := &ctx.Request
	h := &req.Header
	p.prepare(req, ctx.Path(), peerAddr(ctx))

	start := ctx.Time()
	deadline := start.Add(p.pool.settings.Timeout)
	retries := 0
	if p.pool.retries > 0 && (isIdempotent(h) || p.pool.settings.RetryNonIdempotent) {
		retries = p.pool.retries
	}
	var failed *discovery.Instance
	for attempt := 0; ; attempt++ {
		t := p.pool.pick(start, failed)
		if t == nil {
			rt.metrics.UpstreamError(metrics.KindNoInstance)
			return errNoInstance
		}
		t.inst.Acquire()
		err := t.client.Do(req, &ctx.Response, deadline)
		t.inst.Release()
		if err == nil {
			t.inst.ReportSuccess()
			break
		}
		kind := upstream.KindOf(err)
		rt.metrics.UpstreamError(metricKind(kind))
		if kind == upstream.Connect {
			t.inst.ReportFailure(start.UnixNano())
			// Nothing reached the upstream, so another target may take it.
			if attempt < retries {
				failed = t.inst
				continue
			}
		}
		return upstreamError(kind)
	}

	resp := &ctx.Response
	if scanResponseHeaders(&resp.Header)&flagHopByHop != 0 {
		stripResponseHopByHop(&resp.Header)
	}
	// The upstream closing its connection says nothing about the client's.
	resp.Header.ResetConnectionClose()
	resp.Header.SetBytesV(hdrRequestID, h.Peek(hdrRequestID))
	return nil
}

// prepare turns the client's request into the one sent upstream, in place:
// path rewritten, hop-by-hop headers gone, forwarded headers and request id
// set, the route's header rules applied.
func (p *proxyStep) prepare(req *fasthttp.Request, path []byte, peer netip.Addr) {
	rt := p.route
	h := &req.Header
	var scratch [scratchSize]byte
	rewriteURI(req, path, rt.stripPrefix, scratch[:0])
	f := scanRequestHeaders(h)
	if f&flagHopByHop != 0 {
		stripRequestHopByHop(h)
	}
	// The upstream connection is pooled whatever the client asked for its
	// own connection.
	h.ResetConnectionClose()
	setForwarded(h, f, peer, p.trusted.contains(peer), scratch[:0])
	if f&flagRequestID == 0 || len(h.Peek(hdrRequestID)) == 0 {
		h.SetBytesV(hdrRequestID, appendRequestID(scratch[:0]))
	}
	rt.reqHeaders.applyRequest(h)
	if hh := p.pool.settings.HostHeader; hh != "" {
		h.SetHost(hh)
	}
	// Send the Host header as set here, not the host of an absolute-form
	// request line.
	req.UseHostHeader = true
}

// upstreamError maps a failed attempt to the error the client gets.
func upstreamError(kind upstream.Kind) error {
	switch kind {
	case upstream.Timeout:
		return errUpstreamTimeout
	case upstream.PoolExhausted:
		return errUpstreamSaturated
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
	default:
		return metrics.KindOther
	}
}

// isIdempotent reports whether a method may be sent twice (RFC 9110
// section 9.2.2).
func isIdempotent(h *fasthttp.RequestHeader) bool {
	switch string(h.Method()) {
	case fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodPut,
		fasthttp.MethodDelete, fasthttp.MethodOptions, fasthttp.MethodTrace:
		return true
	}
	return false
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
	rest := path[len(prefix):]
	buf := scratch[:0]
	if len(rest) == 0 || rest[0] != '/' {
		buf = append(buf, '/')
	}
	buf = append(buf, rest...)
	buf = append(buf, query...)
	req.SetRequestURIBytes(buf)
}

// stripPrefix removes prefix from the request's parsed path. The router
// matched path against the route, so it starts with prefix. What is left
// always starts with "/".
func stripPrefix(req *fasthttp.Request, path, prefix, scratch []byte) {
	if !bytes.HasPrefix(path, prefix) {
		return
	}
	rest := path[len(prefix):]
	buf := scratch[:0]
	if len(rest) == 0 || rest[0] != '/' {
		buf = append(buf, '/')
	}
	buf = append(buf, rest...)
	req.URI().SetPathBytes(buf)
}
