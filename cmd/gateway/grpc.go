package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/fastgate/gateway/bridge/grpcbridge"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
	"github.com/fastgate/gateway/router"
)

// grpcBackends builds the backends of grpc routes with the gRPC bridge.
// Routes with the same target share one connection, kept while any of
// them uses it: a reload that keeps a target keeps its connection.
type grpcBackends struct {
	// log receives the schema outages of reflection routes; nil means
	// slog.Default().
	log *slog.Logger
	// retryWait is the first wait before a failed schema fetch is tried
	// again in the background, doubled after each failure up to
	// fetchRetryMax (or retryWait, if longer). 0 means fetchRetryMin.
	retryWait time.Duration

	mu    sync.Mutex
	conns map[string]*sharedConn // by target
	// schemas are the last schemas reflection fetched, by target and
	// service: a route built again while its server cannot be reached
	// keeps the schema it had.
	schemas map[schemaKey]*grpcbridge.Schema
	// down holds the routes whose schema could not be fetched, so that
	// an outage is logged when it starts and when it ends, across
	// reloads.
	down map[string]bool
}

type sharedConn struct {
	conn *grpcbridge.Conn
	refs int // guarded by grpcBackends.mu
}

// acquire returns the connection of target, dialing it if none is open;
// key is target and its TLS settings (grpcTLS).
func (g *grpcBackends) acquire(key, target string, addrs []string, tlsConfig *tls.Config) (*sharedConn, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.conns[key]; c != nil {
		c.refs++
		return c, nil
	}
	conn, err := grpcbridge.Dial(grpcbridge.ConnSettings{Addrs: addrs, Name: target, TLS: tlsConfig})
	if err != nil {
		return nil, err
	}
	if g.conns == nil {
		g.conns = make(map[string]*sharedConn)
	}
	c := &sharedConn{conn: conn, refs: 1}
	g.conns[key] = c
	return c, nil
}

func (g *grpcBackends) release(target string, c *sharedConn) {
	g.mu.Lock()
	c.refs--
	last := c.refs == 0
	if last {
		delete(g.conns, target)
	}
	g.mu.Unlock()
	if last {
		_ = c.conn.Close()
	}
}

// build is the gateway's GRPCFactory. A descriptor set that lacks the
// method is an error; a schema that reflection cannot fetch is not: the
// route answers 503 (or keeps the schema it had) and fetches it in the
// background until the server answers.
func (g *grpcBackends) build(rc *config.Route, addrs gateway.AddrSource, events gateway.GRPCEvents) (gateway.GRPCBackend, error) {
	c := rc.GRPC
	var schema *grpcbridge.Schema
	if !c.Reflection {
		var err error
		if schema, err = descriptorSchema(rc); err != nil {
			return nil, err
		}
	}
	tlsConfig, tlsKey, err := grpcTLS(c)
	if err != nil {
		return nil, err
	}
	connKey := c.Target + tlsKey
	shared, err := g.acquire(connKey, c.Target, addrs.Addrs(), tlsConfig)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &grpcRoute{owner: g, target: c.Target, connKey: connKey, route: rc.Name, rc: *rc, shared: shared, events: events,
		params: pathParamSegments(rc.Match.Path), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	fetching := false
	if schema != nil {
		m, err := compileMethod(rc, schema, shared.conn)
		if err != nil {
			cancel()
			g.release(connKey, shared)
			return nil, err
		}
		b.method.Store(m)
	} else {
		b.kick = make(chan struct{}, 1)
		b.keepOld() // until the fetch succeeds
		fetching = b.fetch() != nil
	}
	events.GRPCSchemaReady(b.method.Load() != nil)
	go b.follow(addrs, fetching)
	return b, nil
}

// descriptorSchema parses the descriptor set of rc.
func descriptorSchema(rc *config.Route) (*grpcbridge.Schema, error) {
	schema, err := grpcbridge.ParseDescriptorSet(rc.GRPC.DescriptorSet())
	if err != nil {
		return nil, fmt.Errorf("descriptors %q: %w", rc.GRPC.Descriptors, err)
	}
	return schema, nil
}

// grpcMethod is a route's method compiled from a schema.
type grpcMethod struct {
	ep        *grpcbridge.Endpoint
	streaming bool
}

// compileMethod compiles the method of rc found in schema, calling it on
// conn; every error names the method.
func compileMethod(rc *config.Route, schema *grpcbridge.Schema, conn grpc.ClientConnInterface) (*grpcMethod, error) {
	c := rc.GRPC
	m, err := schema.Method(c.Method)
	if err != nil {
		return nil, err
	}
	ep, err := grpcbridge.NewEndpoint(m, conn, grpcbridge.EndpointSettings{
		Route: rc.Name, AllowUnknownFields: c.AllowUnknownFields, EmitDefaults: c.EmitDefaults,
		UseProtoNames: c.UseProtoNames, Metadata: c.Metadata, ResponseMetadata: c.ResponseMetadata,
	})
	if err != nil {
		return nil, fmt.Errorf("method %s: %w", c.Method, err)
	}
	for _, p := range pathParamSegments(rc.Match.Path) {
		if err := ep.CheckField(p.name); err != nil {
			return nil, fmt.Errorf("method %s: path parameter {%s}: %w", c.Method, p.name, err)
		}
	}
	return &grpcMethod{ep: ep, streaming: m.ServerStreaming()}, nil
}

// grpcRoute is one route's backend.
type grpcRoute struct {
	owner  *grpcBackends
	target string
	// connKey is the shared connection's: target and TLS settings.
	connKey string
	route   string
	rc      config.Route
	shared  *sharedConn
	events  gateway.GRPCEvents
	// method is nil while a reflection route has no schema: it answers
	// 503 then.
	method atomic.Pointer[grpcMethod]
	params []paramSegment
	// kick asks the background loop to fetch the schema now (reflection
	// routes only); nextKick is when a request may next ask, in Unix
	// nanoseconds.
	kick     chan struct{}
	nextKick atomic.Int64
	// ctx ends with Close: it stops the background loop and a fetch.
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// paramSegment is a {name} of the route's path and its segment's index.
type paramSegment struct {
	name    string
	segment int
}

func pathParamSegments(path string) []paramSegment {
	var out []paramSegment
	for i, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, paramSegment{name: seg[1 : len(seg)-1], segment: i})
		}
	}
	return out
}

// follow passes the route's address changes (a discovered service) to
// the connection, and, while fetching, tries to fetch the schema again
// with a growing backoff or when a request asks (kick), until Close.
func (b *grpcRoute) follow(addrs gateway.AddrSource, fetching bool) {
	defer close(b.done)
	changed := addrs.Changed() // nil for a fixed list: never ready
	first := b.owner.retryWait
	if first <= 0 {
		first = fetchRetryMin
	}
	wait := first
	retry := time.NewTimer(wait)
	defer retry.Stop()
	if !fetching {
		retry.Stop()
	}
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-changed:
			_ = b.shared.conn.Update(addrs.Addrs())
			if fetching { // new instances may answer: try again soon
				wait = first
				retry.Reset(wait)
			}
			continue
		case <-retry.C:
		case <-b.kick:
			if !fetching {
				continue
			}
		}
		if b.fetch() == nil {
			fetching = false
			retry.Stop()
			continue
		}
		wait = min(2*wait, max(fetchRetryMax, first))
		retry.Reset(wait)
	}
}

// Close stops the background loop and lets go of the connection.
func (b *grpcRoute) Close() error {
	b.closeOnce.Do(func() {
		b.cancel()
		<-b.done
		b.owner.release(b.connKey, b.shared)
	})
	return nil
}

var (
	requestPool  = sync.Pool{New: func() any { return new(grpcbridge.Request) }}
	responsePool = sync.Pool{New: func() any { return new(grpcbridge.Response) }}
)

// Serve implements gateway.GRPCBackend.
func (b *grpcRoute) Serve(ctx *fasthttp.RequestCtx, deadline time.Time) string {
	m := b.method.Load()
	if m == nil {
		b.noSchema(ctx)
		return ""
	}
	body, err := requestBody(ctx)
	if err != nil {
		ctx.SetConnectionClose()
		writeJSONError(ctx, fasthttp.StatusBadRequest, "request body could not be read")
		return ""
	}
	req := requestPool.Get().(*grpcbridge.Request)
	defer func() { *req = grpcbridge.Request{Params: req.Params[:0]}; requestPool.Put(req) }()
	req.Body, req.Query, req.Header = body, ctx.URI().QueryString(), &ctx.Request.Header
	path := ctx.Path()
	for _, p := range b.params {
		req.Params = append(req.Params, grpcbridge.Param{Name: p.name, Value: router.Segment(path, p.segment)})
	}
	if m.streaming {
		return b.serveStream(ctx, m.ep, req, deadline)
	}
	cctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	resp := responsePool.Get().(*grpcbridge.Response)
	defer func() { resp.Reset(); responsePool.Put(resp) }()
	err = m.ep.Invoke(cctx, req, resp)
	var bad *grpcbridge.RequestError
	sent := !errors.As(err, &bad)
	b.hideAddress(resp)
	writeResponse(ctx, resp)
	if !sent {
		return ""
	}
	return grpcbridge.CodeName(resp.Code)
}

// hideAddress replaces the answer of a server the gateway could not reach:
// grpc-go's message names the target's address, which clients have no
// business seeing.
func (b *grpcRoute) hideAddress(resp *grpcbridge.Response) {
	if resp.Code == codes.Unavailable && bytes.Contains(resp.Body, []byte("connection error")) {
		resp.Body = append(resp.Body[:0], `{"error":"upstream unavailable","code":"UNAVAILABLE","route":"`...)
		resp.Body = append(resp.Body, b.route...)
		resp.Body = append(resp.Body, "\"}\n"...)
	}
}

// serveStream answers a server-streaming method as newline-delimited
// JSON, one line per message, each flushed as it arrives. The request is
// copied first: the stream is written after the handler returned, so the
// code the stream ended with is counted then, through the route's events.
func (b *grpcRoute) serveStream(ctx *fasthttp.RequestCtx, ep *grpcbridge.Endpoint, req *grpcbridge.Request, deadline time.Time) string {
	own := &grpcbridge.Request{Body: append([]byte(nil), req.Body...), Query: append([]byte(nil), req.Query...), Header: copyHeaders(&ctx.Request.Header)}
	for _, p := range req.Params {
		own.Params = append(own.Params, grpcbridge.Param{Name: p.Name, Value: append([]byte(nil), p.Value...)})
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/x-ndjson")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		cctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		var resp grpcbridge.Response
		emitted := false
		err := ep.Stream(cctx, own, &resp, func(line []byte) error {
			emitted = true
			if _, err := w.Write(line); err != nil {
				return err
			}
			return w.Flush()
		})
		var bad *grpcbridge.RequestError
		switch {
		case errors.As(err, &bad):
			// Nothing was sent: not a call. The head is out already; the
			// error body is the one line.
			writeLine(w, resp.Body)
			return
		case err != nil:
			b.events.GRPCCode("CANCELLED") // the client went away
			return
		case !emitted && resp.Code != codes.OK:
			b.hideAddress(&resp)
			writeLine(w, resp.Body) // ended before the first message
		}
		b.events.GRPCCode(grpcbridge.CodeName(resp.Code))
	})
	return ""
}

// writeLine writes body as one line of the stream and flushes it.
func writeLine(w *bufio.Writer, body []byte) {
	_, _ = w.Write(bytes.TrimRight(body, "\n"))
	_ = w.WriteByte('\n')
	_ = w.Flush()
}

// headerCopy is a request's headers copied for use after the handler.
type headerCopy map[string][]byte

func (h headerCopy) Peek(key string) []byte { return h[strings.ToLower(key)] }

func copyHeaders(h *fasthttp.RequestHeader) headerCopy {
	out := make(headerCopy)
	for k, v := range h.All() {
		out[strings.ToLower(string(k))] = append([]byte(nil), v...)
	}
	return out
}

// requestBody returns the whole request body, reading a streamed one
// (the route's body limit already wraps the stream).
func requestBody(ctx *fasthttp.RequestCtx) ([]byte, error) {
	if !ctx.Request.IsBodyStream() {
		return ctx.Request.Body(), nil
	}
	return io.ReadAll(ctx.Request.BodyStream())
}

func writeResponse(ctx *fasthttp.RequestCtx, resp *grpcbridge.Response) {
	ctx.SetStatusCode(resp.Status)
	ctx.SetContentType("application/json")
	for _, h := range resp.Header {
		ctx.Response.Header.AddBytesV(h.Name, h.Value)
	}
	ctx.Response.SetBody(resp.Body)
}

func writeJSONError(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyString(`{"error":"` + msg + `"}` + "\n")
}
