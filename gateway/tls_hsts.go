package gateway

import (
	"github.com/valyala/fasthttp"
)

// hstsStep adds the route's Strict-Transport-Security header (hsts) to
// the answers its steps made over HTTPS. Browsers ignore the header over
// plain HTTP, so it is not sent there; the gateway's error answers
// (which reset the headers) do not carry it.
type hstsStep struct {
	value []byte
}

var keyHSTS = []byte("Strict-Transport-Security")

func buildHSTSStep(b *routeBuild) (step, error) {
	if b.rc.HSTS == "" {
		return nil, nil
	}
	return &hstsStep{value: []byte(b.rc.HSTS)}, nil
}

func (s *hstsStep) wrap(next handler) handler {
	return func(ctx *fasthttp.RequestCtx) error {
		err := next(ctx)
		if err == nil && ctx.IsTLS() {
			ctx.Response.Header.SetCanonical(keyHSTS, s.value)
		}
		return err
	}
}
