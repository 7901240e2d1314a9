package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/internal/httpx"
	"github.com/fastgate/gateway/metrics"
)

// maxFireAndForget bounds the publishes of one fire-and-forget route
// still waiting for their broker; past it the route answers 503.
const maxFireAndForget = 1024

// publishStep publishes the request body to the route's broker and answers
// 202 once the broker confirmed it (or at once, fire and forget), or the
// reply's payload for a NATS request.
type publishStep struct {
	route   *route
	conn    *brokerConn // nil when only checking a configuration
	brokers *brokers    // conn's owner, for close
	kind    string
	dest    *pathTemplate
	key     *pathTemplate // nil: no key, or keyHeader
	keyHdr  string
	channel bool
	exch    string
	headers []string
	idemHdr string
	reply   bool
	async   chan struct{}  // fire and forget: one token per publish in flight; nil otherwise
	pending sync.WaitGroup // fire-and-forget publishes in flight
	maxBody int
	timeout time.Duration
	metrics *metrics.Publish
	fails   *failureLog
}

// buildPublishStep builds a publish route's backend on its broker's
// connection, which it holds until it is closed.
func buildPublishStep(b *routeBuild) (step, error) {
	c := b.rc.Publish
	if c == nil {
		return nil, nil
	}
	bc := b.cfg.Brokers[c.Broker]
	var conn *brokerConn
	if !b.d.check {
		var err error
		if conn, err = b.d.brokers.acquire(c.Broker, bc); err != nil {
			return nil, err
		}
	}
	p, err := newPublishStep(b.rt, c, bc, conn, b.d.log)
	if err != nil {
		b.d.brokers.release(conn)
		return nil, err
	}
	p.brokers = b.d.brokers
	return p, nil
}

func (p *publishStep) wrap(handler) handler { return p.serve }

func (p *publishStep) drainTime() time.Duration { return p.timeout }

// close waits for the fire-and-forget publishes in flight, then lets go of
// the broker's connection.
func (p *publishStep) close() {
	p.flush()
	if p.brokers != nil {
		p.brokers.release(p.conn)
	}
}

func newPublishStep(rt *route, c *config.Publish, b *config.Broker, conn *brokerConn, log *slog.Logger) (*publishStep, error) {
	p := &publishStep{
		route: rt, conn: conn, kind: b.Kind(), channel: c.Channel != "", exch: c.Exchange,
		headers: c.Headers, idemHdr: c.IdempotencyHeader, reply: c.Reply,
		maxBody: int(c.MaxPayload), timeout: c.Timeout,
		metrics: rt.metrics.Publish(c.Broker),
		fails:   newFailureLog(log, rt.name, c.Broker),
	}
	var err error
	if p.dest, err = compileTemplate(c.Destination(), rt.cfg.Match.Path); err != nil {
		return nil, err
	}
	if name, ok := strings.CutPrefix(c.Key, config.PerHeader); ok {
		p.keyHdr = name
	} else if c.Key != "" {
		if p.key, err = compileTemplate(c.Key, rt.cfg.Match.Path); err != nil {
			return nil, err
		}
	}
	if c.Mode == config.ModeFireAndForget {
		p.async = make(chan struct{}, maxFireAndForget)
	}
	if c.Reply && conn != nil {
		if _, ok := conn.pub.(broker.Requester); !ok {
			return nil, errors.New("publish.reply: this broker has no request-reply")
		}
	}
	return p, nil
}

func (p *publishStep) serve(ctx *fasthttp.RequestCtx) error {
	payload, err := p.readBody(ctx)
	if err != nil {
		if err == httpx.ErrBodyTooLarge {
			p.metrics.Result(metrics.PublishTooLarge)
		}
		return err
	}
	m := &broker.Message{Exchange: p.exch, Channel: p.channel, Payload: payload}
	path := ctx.Path()
	dest, ok := p.dest.expand(nil, path)
	if !ok {
		return errBadPathParam
	}
	m.Destination = string(dest)
	switch {
	case p.key != nil:
		k, ok := p.key.expand(nil, path)
		if !ok {
			return errBadPathParam
		}
		m.Key = k
	case p.keyHdr != "":
		m.Key = append([]byte(nil), ctx.Request.Header.Peek(p.keyHdr)...)
	}
	h := &ctx.Request.Header
	m.ID = string(h.Peek(p.idemHdr))
	m.ContentType = string(h.ContentType())
	id := h.Peek(httpx.HeaderRequestID)
	if len(id) == 0 {
		id = httpx.AppendRequestID(nil)
	}
	m.Headers = append(m.Headers, broker.Header{Name: httpx.HeaderRequestID, Value: string(id)})
	for _, name := range [...]string{hdrTraceparent, hdrTracestate} {
		if v := h.Peek(name); len(v) > 0 {
			m.Headers = append(m.Headers, broker.Header{Name: name, Value: string(v)})
		}
	}
	for _, name := range p.headers {
		if v := h.Peek(name); len(v) > 0 {
			m.Headers = append(m.Headers, broker.Header{Name: name, Value: string(v)})
		}
	}
	ctx.Response.Header.SetBytesV(httpx.HeaderRequestID, id)
	switch {
	case p.reply:
		return p.request(ctx, m)
	case p.async != nil:
		return p.publishAsync(ctx, m)
	}
	tctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	start := time.Now()
	ack, err := broker.PublishWithin(tctx, p.conn.pub, m)
	now := time.Now()
	p.metrics.Duration.Observe(now.Sub(start).Seconds())
	if err != nil {
		return p.failed(err, now)
	}
	p.metrics.Result(metrics.PublishConfirmed)
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(append(ack.AppendJSON(nil), '\n'))
	return nil
}

// failed counts and logs (rate-limited) a publish that was not
// confirmed at now, and returns the error the client gets: 504 past the
// deadline, 503 otherwise.
func (p *publishStep) failed(err error, now time.Time) error {
	result, answer := metrics.PublishUnavailable, errBrokerUnavailable
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		result, answer = metrics.PublishTimeout, errPublishTimeout
	case errors.Is(err, broker.ErrNotConfirmed):
		result, answer = metrics.PublishNotConfirmed, errPublishNotConfirmed
	case errors.Is(err, broker.ErrNoResponders):
		result, answer = metrics.PublishNoResponders, errNoResponders
	}
	p.metrics.Result(result)
	p.fails.record(result, err, now)
	return answer
}

// publishAsync hands m to a goroutine and answers 202 at once: the client
// asked for fire and forget, so the message may be lost.
func (p *publishStep) publishAsync(ctx *fasthttp.RequestCtx, m *broker.Message) error {
	select {
	case p.async <- struct{}{}:
	default:
		p.metrics.Result(metrics.PublishUnavailable)
		return errBrokerUnavailable
	}
	own := m.Clone()
	p.pending.Add(1)
	go func() {
		defer p.pending.Done()
		defer func() { <-p.async }()
		tctx, cancel := context.WithTimeout(context.Background(), p.timeout)
		defer cancel()
		start := time.Now()
		_, err := broker.PublishWithin(tctx, p.conn.pub, own)
		now := time.Now()
		p.metrics.Duration.Observe(now.Sub(start).Seconds())
		if err != nil {
			_ = p.failed(err, now)
			return
		}
		p.metrics.Result(metrics.PublishAccepted)
	}()
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyString(`{"broker":"` + p.kind + `","confirmed":false}` + "\n")
	return nil
}

// request sends m as a NATS request and answers with the reply.
func (p *publishStep) request(ctx *fasthttp.RequestCtx, m *broker.Message) error {
	tctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	start := time.Now()
	reply, err := p.conn.pub.(broker.Requester).Request(tctx, m)
	now := time.Now()
	p.metrics.Duration.Observe(now.Sub(start).Seconds())
	if err == nil && tctx.Err() != nil {
		err = tctx.Err()
	}
	if err != nil {
		return p.failed(err, now)
	}
	p.metrics.Result(metrics.PublishConfirmed)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.SetBodyRaw(reply)
	return nil
}

// flush waits for the fire-and-forget publishes still in flight, each of
// which ends within the route's timeout, so that closing the route (at a
// reload or shutdown) does not cut them off.
func (p *publishStep) flush() {
	if p.async != nil {
		p.pending.Wait()
	}
}

// readBody returns the request body, refusing one over the route's
// max_payload with 413: before reading when its length is declared, as
// soon as it grows past the limit otherwise.
func (p *publishStep) readBody(ctx *fasthttp.RequestCtx) ([]byte, error) {
	req := &ctx.Request
	if cl := req.Header.ContentLength(); cl > p.maxBody {
		ctx.SetConnectionClose()
		return nil, httpx.ErrBodyTooLarge
	}
	if !req.IsBodyStream() {
		return req.Body(), nil
	}
	b, err := io.ReadAll(io.LimitReader(req.BodyStream(), int64(p.maxBody)+1))
	switch {
	case err != nil:
		ctx.SetConnectionClose()
		return nil, httpx.ErrBadRequest
	case len(b) > p.maxBody:
		ctx.SetConnectionClose()
		return nil, httpx.ErrBodyTooLarge
	}
	return b, nil
}

// failureLogInterval is the least time between two log lines of one
// route about publishes that failed for the same reason.
const failureLogInterval = 10 * time.Second

// failureLog logs the failed publishes of one route, at warn: the first
// of each reason (a publish result) at once, then at most one line per
// reason per failureLogInterval, which counts those left out since the
// line before. Safe for concurrent use.
type failureLog struct {
	log           *slog.Logger
	route, broker string
	mu            sync.Mutex
	reasons       map[string]*failureCount // by result; fixed at construction
}

type failureCount struct {
	last       time.Time // when the last line was written
	suppressed int       // failures left out since
}

func newFailureLog(log *slog.Logger, route, broker string) *failureLog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &failureLog{log: log, route: route, broker: broker, reasons: make(map[string]*failureCount)}
	for _, r := range [...]string{metrics.PublishUnavailable, metrics.PublishNotConfirmed, metrics.PublishNoResponders, metrics.PublishTimeout} {
		f.reasons[r] = new(failureCount)
	}
	return f
}

// record notes one publish that failed with result at now, because of err
// (the broker's reason), and logs it unless a line for the same result
// was written within failureLogInterval.
func (f *failureLog) record(result string, err error, now time.Time) {
	c := f.reasons[result]
	if c == nil {
		return
	}
	f.mu.Lock()
	if !c.last.IsZero() && now.Sub(c.last) < failureLogInterval {
		c.suppressed++
		f.mu.Unlock()
		return
	}
	suppressed := c.suppressed
	c.last, c.suppressed = now, 0
	f.mu.Unlock()
	f.log.Warn("gateway: publish failed", "route", f.route, "broker", f.broker, "result", result,
		"error", err.Error(), "suppressed", suppressed)
}
