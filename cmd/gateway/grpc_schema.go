package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"google.golang.org/grpc"

	"github.com/fastgate/gateway/bridge/grpcbridge"
	"github.com/fastgate/gateway/config"
)

// The schema of a reflection route is fetched when the route is built and,
// while that fails, again in the background.
const (
	// reflectTimeout bounds one fetch of a schema by server reflection.
	reflectTimeout = 5 * time.Second
	// fetchRetryMin is the first wait before a failed fetch is tried
	// again, and the least time between two fetches that requests ask
	// for.
	fetchRetryMin = time.Second
	// fetchRetryMax caps the wait, doubled after each failure.
	fetchRetryMax = 30 * time.Second
)

// schemaKey names a schema reflection fetched: the service, at a target.
type schemaKey struct{ target, service string }

func (b *grpcRoute) key() schemaKey {
	service, _, _ := strings.Cut(b.rc.GRPC.Method, "/")
	return schemaKey{target: b.target, service: service}
}

// fetch gets the route's schema by reflection and compiles its method;
// on success the route serves with it. A method the server's schema lacks
// fails as the server being down does: the route keeps what it had.
func (b *grpcRoute) fetch() error {
	b.nextKick.Store(time.Now().Add(fetchRetryMin).UnixNano())
	ctx, cancel := context.WithTimeout(b.ctx, reflectTimeout)
	defer cancel()
	key := b.key()
	schema, err := grpcbridge.Reflect(ctx, b.shared.conn, key.service)
	if err != nil {
		err = fmt.Errorf("method %s: reflection: %w", b.rc.GRPC.Method, err)
		b.owner.outage(b, err)
		return err
	}
	m, err := compileMethod(&b.rc, schema, b.shared.conn)
	if err != nil {
		b.owner.outage(b, err)
		return err
	}
	b.owner.keepSchema(key, schema)
	b.method.Store(m)
	b.events.GRPCSchemaReady(true)
	b.owner.recovered(b)
	return nil
}

// keepOld compiles the route's method from the last schema fetched for
// its service at its target, if any.
func (b *grpcRoute) keepOld() {
	b.owner.mu.Lock()
	schema := b.owner.schemas[b.key()]
	b.owner.mu.Unlock()
	if schema == nil {
		return
	}
	if m, err := compileMethod(&b.rc, schema, b.shared.conn); err == nil {
		b.method.Store(m)
	}
}

// noSchema answers a request while the route has no schema: 503, and the
// background loop is asked to fetch now, at most once per fetchRetryMin.
func (b *grpcRoute) noSchema(ctx *fasthttp.RequestCtx) {
	now := ctx.Time().UnixNano()
	if next := b.nextKick.Load(); now >= next && b.nextKick.CompareAndSwap(next, now+int64(fetchRetryMin)) {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyString(`{"error":"gRPC schema not available yet: the server did not answer reflection","route":"`)
	ctx.Response.AppendBodyString(b.route)
	ctx.Response.AppendBodyString("\"}\n")
}

func (g *grpcBackends) keepSchema(key schemaKey, schema *grpcbridge.Schema) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.schemas == nil {
		g.schemas = make(map[schemaKey]*grpcbridge.Schema)
	}
	g.schemas[key] = schema
}

// outage logs a failed fetch of b's schema when the route's outage starts.
// Fetches of a route that is closing are not outages.
func (g *grpcBackends) outage(b *grpcRoute, err error) {
	if b.ctx.Err() != nil {
		return
	}
	g.mu.Lock()
	started := !g.down[b.route]
	if g.down == nil {
		g.down = make(map[string]bool)
	}
	g.down[b.route] = true
	g.mu.Unlock()
	if !started {
		return
	}
	serving := "503 until the server answers"
	if b.method.Load() != nil {
		serving = "the schema fetched before"
	}
	g.logger().Warn("gateway: gRPC schema cannot be fetched; fetching it again in the background",
		"route", b.route, "target", b.target, "serving", serving, "error", err.Error())
}

// recovered logs the end of b's outage, if it had one.
func (g *grpcBackends) recovered(b *grpcRoute) {
	g.mu.Lock()
	was := g.down[b.route]
	delete(g.down, b.route)
	g.mu.Unlock()
	if was {
		g.logger().Info("gateway: gRPC schema fetched, the route serves again", "route", b.route, "target", b.target)
	}
}

func (g *grpcBackends) logger() *slog.Logger {
	if g.log == nil {
		return slog.Default()
	}
	return g.log
}

// checkGRPCRoute is the gateway's GRPCCheck: the checks of building a
// descriptor-set route (the method exists and does not stream from the
// client, each path parameter names a field), without dialling. A
// reflection route cannot be checked offline.
func checkGRPCRoute(rc *config.Route) (note string, err error) {
	if rc.GRPC.Reflection {
		return "not checked offline: schema comes from the server by reflection", nil
	}
	schema, err := descriptorSchema(rc)
	if err != nil {
		return "", err
	}
	_, err = compileMethod(rc, schema, offlineConn{})
	return "", err
}

// offlineConn stands for a connection when a method is compiled only to
// be checked. It is never called.
type offlineConn struct{}

var errOffline = errors.New("gateway: no connection: the route was only checked")

func (offlineConn) Invoke(context.Context, string, any, any, ...grpc.CallOption) error {
	return errOffline
}

func (offlineConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errOffline
}
