package gateway

import (
	"errors"
	"io"
	"sync"

	"github.com/valyala/fasthttp"
)

// errChunkedTooLarge ends a chunked request body that outgrew its route's
// limit while streaming upstream.
var errChunkedTooLarge = errors.New("gateway: request body too large")

// limitedBody passes a request body stream through until limit bytes, then
// fails. Pooled: one per chunked request in flight.
type limitedBody struct {
	r       io.Reader
	left    int
	tripped bool
}

var limitedBodyPool = sync.Pool{New: func() any { return new(limitedBody) }}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Ask for one byte more than allowed to tell "exactly at the
		// limit" from "over it".
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

// Close returns the wrapper to its pool; the server closes the original
// stream itself.
func (l *limitedBody) Close() error {
	l.r = nil
	limitedBodyPool.Put(l)
	return nil
}

func limitBodyStream(req *fasthttp.Request, limit int) {
	l := limitedBodyPool.Get().(*limitedBody)
	l.r, l.left, l.tripped = req.BodyStream(), limit, false
	req.SetBodyStream(l, -1)
}
