package gateway

import (
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/metrics"
)

// handler is the shape of a route's composed pipeline and of each step's
// part of it: it answers (writes ctx.Response and returns nil), or passes
// the request on, or returns an error carrying the gateway's answer (see
// answer in errors.go).
type handler func(ctx *fasthttp.RequestCtx) error

// route is one compiled route. Immutable after build; shared by every
// request that matches it.
type route struct {
	name    string
	cfg     config.Route
	metrics *metrics.Route
	// handle runs the route's pipeline, composed once at build time from
	// its steps (step.go).
	handle handler
	// steps are the route's steps in stepTable's order; backend is the
	// last of them, and source its name, the answer source of what it
	// answers.
	steps   []step
	backend step
	source  string
	// maxBody is the largest request body accepted, in bytes.
	maxBody int
	// logRate is the share of requests the access log samples.
	logRate float64
}

// close releases what the route's steps hold, innermost first. Only call
// it once no request can still be using the route.
func (rt *route) close() {
	for i := len(rt.steps) - 1; i >= 0; i-- {
		if c, ok := rt.steps[i].(closer); ok {
			c.close()
		}
	}
}

// drainTime is how long a request that started on rt may still be using
// it: past its steps' deadlines nothing new starts on their pools. The
// steps' times add up: an alternate upstream starts when the first one
// gave up.
func (rt *route) drainTime() time.Duration {
	var d time.Duration
	for _, s := range rt.steps {
		if dr, ok := s.(drainer); ok {
			d += dr.drainTime()
		}
	}
	return d + time.Second
}

// retryAfter is how long from now until the route's steps would admit a
// request again: the longest wait any of them names.
func (rt *route) retryAfter(now time.Time) time.Duration {
	var wait time.Duration
	for _, s := range rt.steps {
		if r, ok := s.(retryAfterer); ok {
			wait = max(wait, r.retryAfter(now))
		}
	}
	return wait
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

// respondStep is a respond route's backend: the gateway answers itself.
type respondStep struct{ answer *staticAnswer }

func buildRespondStep(b *routeBuild) (step, error) {
	if b.rc.Respond == nil {
		return nil, nil
	}
	return &respondStep{answer: newStaticAnswer(b.rc.Respond)}, nil
}

func (s *respondStep) wrap(handler) handler { return s.answer.serve }

// atomicTargets holds a pool's current instances.
type atomicTargets struct{ p atomic.Pointer[targetSet] }

func (a *atomicTargets) Load() *targetSet   { return a.p.Load() }
func (a *atomicTargets) Store(t *targetSet) { a.p.Store(t) }
