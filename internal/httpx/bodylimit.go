package httpx

import (
	"errors"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// LimitedBody stands between a streamed request body (chunked, or larger
// than what is read before the handler runs) and whoever reads it. It
// passes a chunked body through until limit bytes, then fails, so the
// upstream sees a broken request rather than a complete one. It notes why
// reading the client's body failed, if it did (a malformed chunk, a client
// that went away or was too slow), so that the failure is answered and
// counted as the client's and never as the upstream's. It drops the
// request's trailers once the last chunk has been read, before they could
// be written upstream after the body. Pooled: one per streamed request,
// made by WatchBody and given back by Release; not safe for concurrent use.
type LimitedBody struct {
	r    io.Reader
	h    *fasthttp.RequestHeader
	ctx  *fasthttp.RequestCtx
	idle time.Duration // bound on the wait for each read; 0: none
	left int
	// short is how many bytes of a declared length are still to come;
	// an end before them is a client gone (fasthttp's stream just ends).
	short   int
	tripped bool
	// clientErr is the error reading the client's body, if any: a chunk
	// that does not parse, the client gone or too slow.
	clientErr error
}

var limitedBodies = sync.Pool{New: func() any { return new(LimitedBody) }}

// Read reads the client's body into p, at most up to the limit; over it,
// it fails with ErrChunkedTooLarge.
func (l *LimitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Read one byte more than allowed to tell "exactly at the limit"
		// from "over it".
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.tripped = true
			return 0, ErrChunkedTooLarge
		}
		return 0, l.check(err)
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	if l.idle > 0 {
		// A client that stops sending its body gives up the upstream
		// connection it holds after idle, not after the route's timeout.
		_ = l.ctx.SetReadDeadline(time.Now().Add(l.idle))
	}
	n, err := l.r.Read(p)
	l.left -= n
	l.short -= n
	return n, l.check(err)
}

// check notes how reading the client's body ended. At the end of a chunked
// body fasthttp has read the trailer section into the request header;
// the trailers describe the client's message and are not passed on (RFC
// 9110 section 6.5 lets a proxy drop them), so they are removed here, before
// the body's writer sends them.
func (l *LimitedBody) check(err error) error {
	switch {
	case err == nil:
	case err == io.EOF && l.short > 0:
		if l.clientErr == nil {
			l.clientErr = io.ErrUnexpectedEOF
		}
	case err == io.EOF:
		l.h.Del(fasthttp.HeaderTrailer)
	case l.clientErr == nil:
		l.clientErr = err
	}
	return err
}

// Failure is the error the client gets for its body, or nil when the body
// was fine: ErrBodyTooLarge (413) over the limit, ErrRequestTimeout (408)
// when the client was too slow, ErrClientClosed (499) when it went away
// before the end, ErrBadRequest (400) when its chunked framing is broken.
func (l *LimitedBody) Failure() error {
	var netErr net.Error
	var broken fasthttp.ErrBrokenChunk
	err := l.clientErr
	switch {
	case l.tripped:
		return ErrBodyTooLarge
	case err == nil:
		return nil
	case errors.As(err, &netErr) && netErr.Timeout():
		return ErrRequestTimeout
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &broken) && strings.HasSuffix(broken.Error(), io.EOF.Error()):
		// fasthttp says a chunk ended at the end of the input only in
		// its message.
		return ErrClientClosed
	default:
		return ErrBadRequest
	}
}

// WatchBody puts a LimitedBody in front of the body stream of ctx's
// request: a chunked body is cut at limit bytes, one with a declared
// length is passed as it is; with idle > 0 each read waits at most that
// long for the client. Release undoes it; Failure, called before, tells
// how the client's body ended.
func WatchBody(ctx *fasthttp.RequestCtx, limit int, idle time.Duration) *LimitedBody {
	req := &ctx.Request
	l := limitedBodies.Get().(*LimitedBody)
	cl := req.Header.ContentLength()
	if cl >= 0 {
		limit = math.MaxInt // checked against the limit before reading
	}
	*l = LimitedBody{r: req.BodyStream(), h: &req.Header, ctx: ctx, idle: idle, left: limit, short: max(cl, 0)}
	req.SetBodyStream(l, cl)
	return l
}

// Release gives req its own body stream back, unless sending it upstream
// used it up, and l to the pool.
func (l *LimitedBody) Release(req *fasthttp.Request) {
	if req.BodyStream() == l {
		req.SetBodyStream(l.r, req.Header.ContentLength())
	}
	*l = LimitedBody{}
	limitedBodies.Put(l)
}
