package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"google.golang.org/grpc/codes"

	grpcbridge "github.com/fastgate/gateway/bridge/grpc"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
	"github.com/fastgate/gateway/router"
)

// reflectTimeout bounds fetching a schema by server reflection when a
// route is built.
const reflectTimeout = 10 * time.Second

// grpcBackends builds the backends of grpc routes with the gRPC bridge.
// Routes with the same target share one connection, kept while any of
// them uses it: a reload that keeps a target keeps its connection.
type grpcBackends struct {
	mu    sync.Mutex
	conns map[string]*sharedConn // by target
}

type sharedConn struct {
	conn *grpcbridge.Conn
	refs int // guarded by grpcBackends.mu
}

// acquire returns the connection of target, dialing it if none is open.
func (g *grpcBackends) acquire(target string, addrs []string) (*sharedConn, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.conns[target]; c != nil {
		c.refs++
		return c, nil
	}
	conn, err := grpcbridge.Dial(grpcbridge.ConnSettings{Addrs: addrs, Name: target})
	if err != nil {
		return nil, err
	}
	if g.conns == nil {
		g.conns = make(map[string]*sharedConn)
	}
	c := &sharedConn{conn: conn, refs: 1}
	g.conns[target] = c
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

// build is the gateway's GRPCFactory.
func (g *grpcBackends) build(rc *config.Route, addrs gateway.AddrSource, events gateway.GRPCEvents) (gateway.GRPCBackend, error) {
	c := rc.GRPC
	shared, err := g.acquire(c.Target, addrs.Addrs())
	if err != nil {
		return nil, err
	}
	b := &grpcRoute{owner: g, target: c.Target, route: rc.Name, shared: shared, events: events,
		stop: make(chan struct{}), done: make(chan struct{})}
	ep, streaming, err := endpointFor(rc, shared.conn)
	if err != nil {
		g.release(c.Target, shared)
		return nil, err
	}
	b.ep, b.streaming = ep, streaming
	b.params = pathParamSegments(rc.Match.Path)
	go b.follow(addrs)
	return b, nil
}

// endpointFor loads the route's schema (descriptor set or reflection) and
// compiles its method; every error names the method.
func endpointFor(rc *config.Route, conn *grpcbridge.Conn) (*grpcbridge.Endpoint, bool, error) {
	c := rc.GRPC
	var schema *grpcbridge.Schema
	var err error
	if set := c.DescriptorSet(); set != nil {
		schema, err = grpcbridge.ParseDescriptorSet(set)
		if err != nil {
			return nil, false, fmt.Errorf("descriptors %q: %w", c.Descriptors, err)
		}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), reflectTimeout)
		defer cancel()
		service, _, _ := strings.Cut(c.Method, "/")
		schema, err = grpcbridge.Reflect(ctx, conn, service)
		if err != nil {
			return nil, false, fmt.Errorf("method %s: reflection: %w", c.Method, err)
		}
	}
	m, err := schema.Method(c.Method)
	if err != nil {
		return nil, false, err
	}
	ep, err := grpcbridge.NewEndpoint(m, conn, grpcbridge.EndpointSettings{
		Route: rc.Name, AllowUnknownFields: c.AllowUnknownFields, EmitDefaults: c.EmitDefaults,
		UseProtoNames: c.UseProtoNames, Metadata: c.Metadata, ResponseMetadata: c.ResponseMetadata,
	})
	if err != nil {
		return nil, false, fmt.Errorf("method %s: %w", c.Method, err)
	}
	for _, p := range pathParamSegments(rc.Match.Path) {
		if err := ep.CheckField(p.name); err != nil {
			return nil, false, fmt.Errorf("method %s: path parameter {%s}: %w", c.Method, p.name, err)
		}
	}
	return ep, m.ServerStreaming(), nil
}

// grpcRoute is one route's backend.
type grpcRoute struct {
	owner     *grpcBackends
	target    string
	route     string
	shared    *sharedConn
	events    gateway.GRPCEvents
	ep        *grpcbridge.Endpoint
	streaming bool
	params    []paramSegment
	stop      chan struct{}
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
// the connection until Close.
func (b *grpcRoute) follow(addrs gateway.AddrSource) {
	defer close(b.done)
	changed := addrs.Changed()
	if changed == nil {
		<-b.stop
		return
	}
	for {
		select {
		case <-b.stop:
			return
		case <-changed:
			_ = b.shared.conn.Update(addrs.Addrs())
		}
	}
}

// Close stops following addresses and lets go of the connection.
func (b *grpcRoute) Close() error {
	b.closeOnce.Do(func() {
		close(b.stop)
		<-b.done
		b.owner.release(b.target, b.shared)
	})
	return nil
}

var (
	requestPool  = sync.Pool{New: func() any { return new(grpcbridge.Request) }}
	responsePool = sync.Pool{New: func() any { return new(grpcbridge.Response) }}
)

// Serve implements gateway.GRPCBackend.
func (b *grpcRoute) Serve(ctx *fasthttp.RequestCtx, deadline time.Time) string {
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
	if b.streaming {
		return b.serveStream(ctx, req, deadline)
	}
	cctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	resp := responsePool.Get().(*grpcbridge.Response)
	defer func() { resp.Reset(); responsePool.Put(resp) }()
	err = b.ep.Invoke(cctx, req, resp)
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
func (b *grpcRoute) serveStream(ctx *fasthttp.RequestCtx, req *grpcbridge.Request, deadline time.Time) string {
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
		err := b.ep.Stream(cctx, own, &resp, func(line []byte) error {
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
