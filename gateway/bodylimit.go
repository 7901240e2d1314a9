package gateway

import (
	"errors"
	"io"
	"net"

	"github.com/valyala/fasthttp"
)

// errChunkedTooLarge ends a chunked request body that outgrew its route's
// limit while streaming upstream.
var errChunkedTooLarge = errors.New("gateway: request body too large")

// limitedBody passes a chunked request body through until limit bytes, then
// fails, so the upstream sees a broken request rather than a complete one.
// It also notices a body the client framed badly (a malformed chunk), and
// drops the request's trailers once the last chunk has been read, before
// they could be written upstream after the body. It costs one small
// allocation per chunked request; requests with a declared length are
// checked before anything is read.
type limitedBody struct {
	r       io.Reader
	h       *fasthttp.RequestHeader
	left    int
	tripped bool
	// clientErr is the error reading the client's body, if any: a chunk
	// that does not parse, or the client too slow.
	clientErr error
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Read one byte more than allowed to tell "exactly at the limit"
		// from "over it".
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.tripped = true
			return 0, errChunkedTooLarge
		}
		return 0, l.check(err)
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= n
	return n, l.check(err)
}

// check notes how reading the client's body ended. At the end of a chunked
// body fasthttp has read the trailer section into the request header;
// the trailers describe the client's message and are not passed on (RFC
// 9110 section 6.5 lets a proxy drop them), so they are removed here, before
// the body's writer sends them.
func (l *limitedBody) check(err error) error {
	switch {
	case err == nil:
	case err == io.EOF:
		l.h.Del(fasthttp.HeaderTrailer)
	case l.clientErr == nil:
		l.clientErr = err
	}
	return err
}

// failure is the error the client gets for its body, or nil when the body
// was fine: 413 over the limit, 408 when the client was too slow, 400 when
// its chunked framing is broken.
func (l *limitedBody) failure() error {
	var netErr net.Error
	switch {
	case l.tripped:
		return errBodyTooLarge
	case l.clientErr == nil:
		return nil
	case errors.As(l.clientErr, &netErr) && netErr.Timeout():
		return errRequestTimeout
	default:
		return errBadRequest
	}
}

func limitBodyStream(req *fasthttp.Request, limit int) *limitedBody {
	l := &limitedBody{r: req.BodyStream(), h: &req.Header, left: limit}
	req.SetBodyStream(l, -1)
	return l
}
