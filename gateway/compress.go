package gateway

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/compress"
	"github.com/fastgate/gateway/metrics"
	"github.com/fastgate/gateway/upstream"
)

// compressStep compresses the answers of a route with compression for
// clients that accept one of its encodings: an answer in memory at once,
// a streamed one (large or of unknown size) as it streams, piece by
// piece, in bounded memory. It decides from the answer's head alone;
// answers that are not to be compressed pass untouched, with Vary:
// Accept-Encoding when another client could have had them compressed.
type compressStep struct {
	next handler
	// offered are the route's encodings, the preferred first.
	offered []compress.Encoding
	// by encoding: its pool, and the counters of what went in and out.
	pools    [4]*compress.Pool
	counters [4]*streamCounter
	minSize  int
	types    mediaTypes
	// streams counts the answers being compressed as they stream, up to
	// maxStreams.
	streams    atomic.Int64
	maxStreams int64
	skipped    *[metrics.NumSkipReasons]prometheus.Counter
}

// compressCounter counts one encoding's bytes in and out on a route.
type compressCounter struct {
	in, out prometheus.Counter
	streams *atomic.Int64
}

func (c *compressCounter) Compressed(in, out int64) {
	c.in.Add(float64(in))
	c.out.Add(float64(out))
}

// streamCounter is compressCounter for a stream: its end also frees its
// place among the route's streams.
type streamCounter struct{ compressCounter }

func (c *streamCounter) Compressed(in, out int64) {
	c.compressCounter.Compressed(in, out)
	c.streams.Add(-1)
}

var _ compress.Counter = (*streamCounter)(nil)

func buildCompressStep(b *routeBuild) (step, error) {
	cc := b.rc.Compression
	if cc == nil {
		return nil, nil
	}
	m := b.rt.metrics.Compression(cc.Encodings)
	c := &compressStep{minSize: int(cc.MinSize), skipped: &m.Skipped, types: newMediaTypes(cc.Types),
		maxStreams: int64(cc.MaxStreams)}
	for i, name := range cc.Encodings {
		e, ok := compress.Parse(name)
		if !ok {
			return nil, fmt.Errorf("no encoding %q", name)
		}
		level := cc.GzipLevel
		switch e {
		case compress.Brotli:
			level = cc.BrotliLevel
		case compress.Zstd:
			level = cc.ZstdLevel
		}
		p, err := compress.NewPool(e, level)
		if err != nil {
			return nil, err
		}
		c.offered = append(c.offered, e)
		c.pools[e] = p
		c.counters[e] = &streamCounter{compressCounter{in: m.In[i], out: m.Out[i], streams: &c.streams}}
	}
	return c, nil
}

func (c *compressStep) wrap(next handler) handler {
	c.next = next
	return c.serve
}

func (c *compressStep) serve(ctx *fasthttp.RequestCtx) error {
	err := c.next(ctx)
	if err == nil {
		c.apply(ctx)
	}
	return err
}

// apply compresses ctx's answer if it is to be, or counts why not. Not
// inlined: serve's frame stays on the stack while the steps below it
// run (see prepareFrom).
//
//go:noinline
func (c *compressStep) apply(ctx *fasthttp.RequestCtx) {
	resp := &ctx.Response
	h := &resp.Header
	reason, vary := c.skip(ctx, h)
	if vary {
		addVary(h)
	}
	if reason < metrics.NumSkipReasons {
		c.skipped[reason].Inc()
		return
	}
	e := compress.Negotiate(ctx.Request.Header.Peek(fasthttp.HeaderAcceptEncoding), c.offered)
	if e == compress.Identity {
		c.skipped[metrics.SkipClient].Inc()
		return
	}
	if resp.IsBodyStream() {
		if !ctx.Request.Header.IsHTTP11() && h.ContentLength() >= 0 {
			// An HTTP/1.0 client cannot take the chunked framing a
			// compressed stream needs; the answer keeps its length.
			c.skipped[metrics.SkipClient].Inc()
			return
		}
		if c.streams.Add(1) > c.maxStreams {
			c.streams.Add(-1)
			c.skipped[metrics.SkipBusy].Inc()
			return
		}
		if !c.stream(resp, e) {
			c.streams.Add(-1)
			return
		}
	} else if !c.inMemory(resp, e) {
		return
	}
	h.SetContentEncoding(e.String())
	h.Del(fasthttp.HeaderAcceptRanges) // ranges of the encoded bytes are not served
	weakenETag(h)
}

// noSkip is skip's reason when the answer is to be compressed for a
// client that accepts it.
const noSkip = metrics.NumSkipReasons

// skip returns why ctx's answer of head h is not compressed whatever the
// client accepts (noSkip when it may be), and whether the answer should
// say Vary: Accept-Encoding: it could have been compressed for another
// client, or is a 304 or 206 of an answer that could.
func (c *compressStep) skip(ctx *fasthttp.RequestCtx, h *fasthttp.ResponseHeader) (metrics.SkipReason, bool) {
	status := h.StatusCode()
	switch {
	case status == fasthttp.StatusNotModified:
		return metrics.SkipStatus, true
	case status < 200 || status == fasthttp.StatusNoContent:
		return metrics.SkipStatus, false
	case len(h.ContentEncoding()) > 0:
		return metrics.SkipEncoded, false
	case hasToken(h.Peek(fasthttp.HeaderCacheControl), "no-transform"):
		return metrics.SkipNoTransform, false
	case eventStream(h):
		return metrics.SkipStream, false
	case !c.types.match(h.ContentType()):
		return metrics.SkipType, false
	case status == fasthttp.StatusPartialContent:
		return metrics.SkipStatus, true
	case ctx.IsHead():
		return metrics.SkipHead, true
	}
	size := h.ContentLength()
	if !ctx.Response.IsBodyStream() {
		size = len(ctx.Response.Body())
	}
	if size >= 0 && size < c.minSize {
		return metrics.SkipSize, true
	}
	return noSkip, true
}

// inMemory compresses resp's body, which is in memory, with e, and
// reports whether it did. The compressed body takes the place of the
// plain one, whose buffer goes back to the pool: no allocation in steady
// state.
func (c *compressStep) inMemory(resp *fasthttp.Response, e compress.Encoding) bool {
	body := resp.Body()
	buf := bodyBufs.Get().(*[]byte)
	out, err := c.pools[e].AppendCompressed((*buf)[:0], body)
	if err != nil {
		*buf = out[:0]
		bodyBufs.Put(buf)
		return false
	}
	c.counters[e].compressCounter.Compressed(int64(len(body)), int64(len(out)))
	old := resp.SwapBody(out)
	if cap(old) <= maxKeptBody {
		*buf = old[:0]
		bodyBufs.Put(buf)
	}
	return true
}

// maxKeptBody is the largest body buffer kept for the next compression.
const maxKeptBody = 256 << 10

// bodyBufs are buffers compressed bodies are written into; each is then
// swapped for the plain body's, which goes back here.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// stream makes resp's streamed body, from an upstream, a compressed
// stream of e: of unknown length, so sent chunked. The upstream body is
// closed (and its watcher told) when the compressed stream is. false:
// the body is not an upstream's (none other is streamed), and is left
// alone.
func (c *compressStep) stream(resp *fasthttp.Response, e compress.Encoding) bool {
	src := upstream.Detach(resp)
	if src == nil {
		return false
	}
	resp.SetBodyStream(c.pools[e].NewStream(src, c.counters[e]), -1)
	return true
}

// addVary adds Accept-Encoding to h's Vary, unless it is there already
// or Vary is "*".
func addVary(h *fasthttp.ResponseHeader) {
	v := h.Peek(fasthttp.HeaderVary)
	if len(v) == 0 {
		h.Set(fasthttp.HeaderVary, fasthttp.HeaderAcceptEncoding)
		return
	}
	if hasToken(v, "accept-encoding") || hasToken(v, "*") {
		return
	}
	var scratch [256]byte
	merged := append(append(scratch[:0], v...), ", Accept-Encoding"...)
	h.SetBytesV(fasthttp.HeaderVary, merged)
}

// weakenETag makes a strong ETag weak: the compressed bytes are not the
// ones it named (RFC 9110, section 8.8.3.3).
func weakenETag(h *fasthttp.ResponseHeader) {
	tag := h.Peek(fasthttp.HeaderETag)
	if len(tag) == 0 || bytes.HasPrefix(tag, weakPrefix) {
		return
	}
	var scratch [256]byte
	h.SetBytesV(fasthttp.HeaderETag, append(append(scratch[:0], weakPrefix...), tag...))
}

var weakPrefix = []byte("W/")

// hasToken reports whether the comma-separated list v holds token (lower
// case), in any case, with or without "=value".
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var item []byte
		item, v, _ = bytes.Cut(v, comma)
		if name, _, _ := bytes.Cut(item, equals); bytes.EqualFold(bytes.TrimSpace(name), []byte(token)) {
			return true
		}
	}
	return false
}

var (
	comma  = []byte(",")
	equals = []byte("=")
)

// mediaTypes is a compiled list of media types: exact ones, whole
// families ("text/*") and suffixes ("application/*+json"), lower case.
type mediaTypes struct {
	exact    [][]byte
	families [][]byte // "text/"
	suffixes [][]byte // "application/", "+json" pairs, flattened
}

func newMediaTypes(list []string) mediaTypes {
	var m mediaTypes
	for _, t := range list {
		typ, sub, _ := strings.Cut(strings.ToLower(t), "/")
		switch {
		case sub == "*":
			m.families = append(m.families, []byte(typ+"/"))
		case strings.HasPrefix(sub, "*+"):
			m.suffixes = append(m.suffixes, []byte(typ+"/"), []byte(sub[1:]))
		default:
			m.exact = append(m.exact, []byte(typ+"/"+sub))
		}
	}
	return m
}

// match reports whether the Content-Type value ct (parameters and case
// as they come) is on the list. An answer without a type is not.
func (m *mediaTypes) match(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	if len(ct) == 0 {
		return false
	}
	for _, t := range m.exact {
		if bytes.EqualFold(ct, t) {
			return true
		}
	}
	for _, f := range m.families {
		if len(ct) > len(f) && bytes.EqualFold(ct[:len(f)], f) {
			return true
		}
	}
	for i := 0; i+1 < len(m.suffixes); i += 2 {
		typ, suffix := m.suffixes[i], m.suffixes[i+1]
		if len(ct) > len(typ)+len(suffix) && bytes.EqualFold(ct[:len(typ)], typ) &&
			bytes.EqualFold(ct[len(ct)-len(suffix):], suffix) {
			return true
		}
	}
	return false
}
