package gateway

import (
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/breaker"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/metrics"
)

// handler is the one shape every step of a route's pipeline has. A step
// either answers (writes ctx.Response and returns nil) or returns one of
// the errors of errors.go, which the gateway turns into a status.
type handler func(ctx *fasthttp.RequestCtx) error

// route is one compiled route. Immutable after build; shared by every
// request that matches it.
type route struct {
	name    string
	cfg     config.Route
	metrics *metrics.Route
	// handle runs the route's pipeline, composed once at build time
	// (pipeline.go).
	handle handler
	// maxBody is the largest request body accepted, in bytes.
	maxBody int
	// stripPrefix is removed from the path before forwarding.
	stripPrefix []byte
	reqHeaders  headerOps
	respHeaders headerOps
	// logRate is the share of requests the access log samples.
	logRate float64
	// traced: the steps record spans of their own (tracing export on).
	traced bool
	// limit is the route's rate limit; nil for none.
	limit *routeLimit
	// breaker guards the upstream; nil for none. Carried over with the
	// route across reloads, so its state survives them.
	breaker *breaker.Breaker
	// targetBreakers guard each upstream target (per: target); nil for
	// none.
	targetBreakers *breaker.Set
	// fallback answers when the upstream failed; nil for none.
	fallback *fallback
	// Exactly one backend is set.
	grpc    *grpcStep
	publish *publishStep
	// broker is the connection publish uses; held until close.
	broker   *brokerConn
	respond  *staticAnswer
	upstream *pool
}

// close releases what the route holds. Only call it once no request can
// still be using the route.
func (rt *route) close(d *deps) {
	if rt.upstream != nil {
		rt.upstream.close()
	}
	if rt.fallback != nil {
		rt.fallback.close()
	}
	if rt.publish != nil {
		rt.publish.flush()
	}
	d.brokers.release(rt.broker)
	if rt.grpc != nil {
		rt.grpc.close()
	}
	d.limiters.release(rt.limit)
}

// drainTime is how long a request that started on rt may still be using
// it: past its upstream deadline nothing new starts on its pools.
func (rt *route) drainTime() time.Duration {
	var d time.Duration
	if rt.upstream != nil {
		d = rt.upstream.settings.Timeout
	}
	if rt.publish != nil {
		d = rt.publish.timeout
	}
	if rt.grpc != nil {
		d = rt.grpc.timeout
	}
	if rt.fallback != nil && rt.fallback.alt != nil {
		// The alternate starts when the first upstream gave up.
		d += rt.fallback.alt.pool.settings.Timeout
	}
	return d + time.Second
}

// staticAnswer is a respond route's answer, built once.
type staticAnswer struct {
	status  int
	body    []byte
	headers []headerKV
}

func newStaticAnswer(r *config.Respond) *staticAnswer {
	a := &staticAnswer{status: r.Status, body: r.Content()}
	a.headers = newHeaderOps(r.Headers, nil).set
	return a
}

// serve writes the answer. It copies the body into the response so that
// response header rules of the route can still run after it.
func (a *staticAnswer) serve(ctx *fasthttp.RequestCtx) error {
	resp := &ctx.Response
	resp.SetStatusCode(a.status)
	for i := range a.headers {
		resp.Header.SetBytesV(a.headers[i].key, a.headers[i].value)
	}
	if !ctx.IsHead() {
		resp.SetBody(a.body)
	} else {
		resp.Header.SetContentLength(len(a.body))
	}
	return nil
}

// atomicTargets holds a pool's current instances.
type atomicTargets struct{ p atomic.Pointer[targetSet] }

func (a *atomicTargets) Load() *targetSet   { return a.p.Load() }
func (a *atomicTargets) Store(t *targetSet) { a.p.Store(t) }
