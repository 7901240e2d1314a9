package gateway

import (
	"bytes"
	"errors"
	"io"

	"github.com/valyala/fasthttp"
)

// errChunkedTooLarge ends a chunked request body that outgrew its route's
// limit while streaming upstream.
var errChunkedTooLarge = errors.New("gateway: request body too large")

// limitedBody passes a chunked request body through until limit bytes, then
// fails, so the upstream sees a broken request rather than a complete one.
// It costs one small allocation per chunked request; requests with a
// declared length are checked before anything is read.
type limitedBody struct {
	r       io.Reader
	left    int
	tripped bool
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
		return 0, err
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= n
	return n, err
}

func limitBodyStream(req *fasthttp.Request, limit int) *limitedBody {
	l := &limitedBody{r: req.BodyStream(), left: limit}
	req.SetBodyStream(l, -1)
	return l
}

// hasContentLength reports whether a raw request head carries a
// Content-Length field. fasthttp gives Transfer-Encoding precedence and
// hides the Content-Length, but a request with both is a smuggling attempt
// (RFC 9112 section 6.1) and is refused.
func hasContentLength(raw []byte) bool {
	const name = "content-length:"
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if len(line) >= len(name) && bytes.EqualFold(line[:len(name)], []byte(name)) {
			return true
		}
	}
	return false
}
