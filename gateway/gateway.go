package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/internal/httpx"
	"github.com/fastgate/gateway/metrics"
	"github.com/fastgate/gateway/router"
)

// Options are what a Gateway needs besides its configuration.
type Options struct {
	// Logger receives the gateway's log lines. Nil means slog.Default().
	Logger *slog.Logger
	// Registry receives the metrics. Nil means a new registry of its own.
	Registry *prometheus.Registry
	// Version and Commit are reported by gateway_build_info. Empty means
	// "dev" and "unknown".
	Version string
	Commit  string
	// Sources are the service registries upstream.service names are
	// looked up in, by the name routes use (consul, etcd). The caller
	// builds them from the configuration and closes them after Shutdown.
	Sources map[string]discovery.Watcher
	// StateFile keeps the last known instances across restarts; "" for
	// none.
	StateFile string
	// Brokers connects the brokers a configuration declares. Nil: a
	// configuration with brokers is refused.
	Brokers BrokerFactory
	// GRPC builds the backends of grpc routes. Nil: a configuration with
	// grpc routes is refused.
	GRPC GRPCFactory
	// GRPCCheck checks grpc routes offline in dry-run reloads. Nil: they
	// are checked as configuration only.
	GRPCCheck GRPCCheck
	// AccessLogOutput, when not nil, receives the access log instead of
	// the configured access_log.output (which must still be set for a
	// log to be written).
	AccessLogOutput io.Writer
	// ACME provides certificates for tls.acme. Nil: a configuration with
	// tls.acme is refused.
	ACME ACME
	// Registration is this instance's self-registration (the
	// registration setting), which the caller runs. Nil: none, and
	// cluster rate limits divide their local fallback by
	// rate_limit.instances.
	Registration Registration
}

// Gateway serves one configuration at a time. Safe for concurrent use.
type Gateway struct {
	current  atomic.Pointer[snapshot]
	metrics  *metrics.Metrics
	registry *prometheus.Registry
	log      *slog.Logger
	server   *fasthttp.Server
	// unmatched counts requests no route took (route label "").
	unmatched *metrics.Route
	// draining is set when shutdown begins: /readyz turns 503.
	draining atomic.Bool
	// listeners are those Serve was given; Shutdown closes them too, so
	// that a Serve racing with Shutdown does not accept forever.
	lnMu      sync.Mutex
	listeners []net.Listener
	idleLns   []*idleListener
	reload    reloadState
	onReload  atomic.Pointer[ReloadFunc]
	source    atomic.Pointer[func() metrics.ConfigSourceStatus] // SetConfigSource
	clients   clients
	deps      *deps
	// observers are the access logs and tracers of the snapshots that
	// requests may still use.
	observers observers
	// acceptErrs counts the accept errors Serve's listeners wait out.
	acceptErrs *acceptErrors
	// admins are the servers of ServeAdmin, closed at the end of
	// Shutdown (under lnMu, as adminClosed).
	admins      []*http.Server
	adminClosed bool
	adminLimits adminLimits
	// edge is the HTTPS listener's material; nil when tls.listen is off.
	edge *edgeTLS

	// maxConnsPerIP is server.max_conns_per_ip, which the idle
	// listeners keep.
	maxConnsPerIP int
	// idleRest, when not zero, replaces restAfter (gateway/idle.go) for
	// the listeners Serve is given next; negative leaves idle connections
	// in fasthttp (a benchmark's comparisons).
	idleRest time.Duration
}

// prefetchBodySize is how much of a request body is read before the
// handler runs; larger bodies stream through as they arrive.
const prefetchBodySize = 64 << 10

// New compiles cfg into a gateway ready to serve. It opens no listener.
func New(cfg *config.Config, opts Options) (*Gateway, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	g := &Gateway{
		registry: opts.Registry,
		log:      opts.Logger,
		metrics:  metrics.New(opts.Registry, metrics.Build{Version: opts.Version, Commit: opts.Commit}),
	}
	g.unmatched = g.metrics.Route("")
	g.acceptErrs = newAcceptErrors(g.metrics)
	g.adminLimits = defaultAdminLimits
	g.deps = &deps{metrics: g.metrics, clients: &g.clients, log: g.log, brokers: &brokers{connect: opts.Brokers}, grpc: opts.GRPC, grpcCheck: opts.GRPCCheck,
		tunnels: newTunnels()}
	g.clients.log = g.log
	if len(opts.Sources) > 0 {
		reg, err := discovery.NewRegistry(discovery.RegistrySettings{
			Sources: opts.Sources, StateFile: opts.StateFile, Logger: g.log,
		})
		if err != nil {
			return nil, err
		}
		g.deps.registry = reg
		g.metrics.WatchDiscovery(func() []metrics.ServiceStatus { return discoveryStatus(reg) })
	}
	g.watchRegistration(opts.Registration)
	g.observers.out = opts.AccessLogOutput
	obs, _, err := g.observers.build(cfg, nil, nil)
	if err != nil {
		g.deps.close()
		return nil, err
	}
	if g.edge, err = newEdgeTLS(cfg, opts.ACME, g.metrics); err != nil {
		g.observers.close(obs)
		g.deps.close()
		return nil, err
	}
	snap, err := buildSnapshot(cfg, g.deps, nil, obs, summary{})
	if err != nil {
		g.metrics.ConfigRejected()
		g.observers.close(obs)
		g.deps.close()
		return nil, err
	}
	g.metrics.WatchAccessLog(g.observers.droppedLines)
	warnInsecureUpstreams(cfg, g.log)
	g.current.Store(snap)
	g.metrics.WatchBrokers(func() []metrics.BrokerStatus { return brokerStatus(g.current.Load()) })
	g.metrics.ConfigApplied(float64(time.Now().Unix()), snap.hash)
	s := cfg.Server
	if s.Concurrency == 0 {
		s.Concurrency = defaultConcurrency()
	}
	g.server = &fasthttp.Server{
		Handler:       g.serve,
		ErrorHandler:  g.serveParseError,
		ExpectHandler: g.serveExpect,
		Logger:        fasthttpLogger{g.log},
		ReadTimeout:   s.ReadTimeout,
		WriteTimeout:  s.WriteTimeout,
		IdleTimeout:   s.IdleTimeout,
		// The request head must fit in the read buffer: that makes
		// max_header_bytes the 431 limit.
		ReadBufferSize:               int(s.MaxHeaderBytes),
		WriteBufferSize:              serverWriteBuffer,
		MaxRequestBodySize:           prefetchBodySize,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		ReduceMemoryUsage:            true,
		Concurrency:                  s.Concurrency,
		CloseOnShutdown:              true,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
	}
	// Serve's idle listener takes idle connections out of fasthttp
	// (gateway/idle.go), so it keeps server.max_conns_per_ip, which
	// counts them too; ConnState tells it when a connection is idle.
	g.maxConnsPerIP = s.MaxConnsPerIP
	g.server.ConnState = connState
	// A tunnel's run returns once its pumps are started, so that
	// fasthttp's RequestCtx and read buffer are not kept for the
	// tunnel's life; the tunnel closes the connection (tunnel_pipe.go).
	g.server.KeepHijackedConns = true
	if g.edge != nil {
		// Only with the HTTPS listener: its checks come first, and the
		// plain handler's frame stays as small as without TLS.
		g.server.Handler = g.serveEdge
	}
	return g, nil
}

// serverWriteBuffer is the size of the buffer fasthttp writes an answer
// through.
const serverWriteBuffer = 32 << 10

// Concurrency is the most client connections the proxy listener serves at
// once (server.concurrency, or the default derived from the open-file
// limit); more are answered 503 and closed.
func (g *Gateway) Concurrency() int { return g.server.Concurrency }

// ErrShutdown is what Serve returns when Shutdown has begun before it.
var ErrShutdown = errors.New("gateway: shut down")

// Serve answers requests arriving on ln until Shutdown, and closes ln.
// Accept errors the process recovers from (out of file descriptors or
// memory) do not end it: it waits, from 5ms doubling to 1s, and tries
// again while it serves the connections it has.
func (g *Gateway) Serve(ln net.Listener) error {
	il := newIdleListener(ln, g.server, g.log, g.server.Concurrency, g.maxConnsPerIP)
	if g.idleRest != 0 {
		il.rest = max(g.idleRest, 0)
	}
	ln = newRetryListener(il, g.acceptErrs, g.log)
	g.lnMu.Lock()
	if g.draining.Load() {
		g.lnMu.Unlock()
		_ = ln.Close()
		return ErrShutdown
	}
	g.listeners = append(g.listeners, ln)
	g.idleLns = append(g.idleLns, il)
	g.lnMu.Unlock()
	return g.server.Serve(ln)
}

// Ready reports whether the gateway serves a configuration (with a config
// source, a version of it), is not shutting down, and is connected to
// every broker marked required.
func (g *Gateway) Ready() bool {
	s := g.current.Load()
	if s == nil || g.draining.Load() || !g.sourceLoaded() {
		return false
	}
	_, ok := brokersReady(s)
	return ok
}

// Shutdown marks the gateway not ready, keeps serving for
// server.shutdown_delay, then stops accepting connections and waits for
// requests in flight and WebSocket tunnels (each sent a close frame 1001)
// until ctx ends. Keep-alive clients are told to close. It then releases
// the upstream pools.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.lnMu.Lock()
	g.draining.Store(true)
	g.lnMu.Unlock()
	// Load balancers polling /readyz stop sending new requests during
	// the delay; requests that still come are served.
	if d := g.Config().Server.ShutdownDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	// Hijacked connections leave fasthttp's count: the tunnels get their
	// close frame and are waited for on their own, meanwhile.
	tunnelsDone := make(chan error, 1)
	go func() { tunnelsDone <- g.deps.tunnels.shutdown(ctx) }()
	err := g.server.ShutdownWithContext(ctx)
	if terr := <-tunnelsDone; err == nil {
		err = terr
	}
	// A Serve that began just before Shutdown may not have handed its
	// listener to the server yet; fasthttp closed the others already.
	g.lnMu.Lock()
	for _, ln := range g.listeners {
		_ = ln.Close()
	}
	idle := g.idleLns
	g.lnMu.Unlock()
	// Idle connections whose next request came as the listeners closed
	// are served outside fasthttp's count.
	for _, il := range idle {
		if werr := il.wait(ctx.Done()); err == nil {
			err = werr
		}
	}
	g.closeRetiring()
	if snap := g.current.Load(); snap != nil {
		snap.close(g.deps)
	}
	g.deps.close()
	g.observers.closeAll()
	g.closeAdmin()
	return err
}

// serve is the fasthttp handler: one atomic load of the snapshot, the
// checks of checkRequest, one route lookup, the route's pipeline, then the
// metrics.
func (g *Gateway) serve(ctx *fasthttp.RequestCtx) {
	snap := g.current.Load()
	if rt, err := g.handle(ctx, snap); rt == nil {
		g.countUnmatched(ctx, err)
	}
}

// countUnmatched counts an answer no route gave. Not inlined, so that
// serve's frame, under the whole pipeline, stays small (see handle).
//
//go:noinline
func (g *Gateway) countUnmatched(ctx *fasthttp.RequestCtx, err error) {
	g.unmatched.Request(ctx.Method(), statusOf(err))
}

// handle answers one request and returns the route that took it (nil for
// none) and the pipeline's error, already written as the answer. Its
// frame stays on the stack for the whole pipeline, whose deepest point
// waits for the upstream: the work before and after the pipeline is in
// enter and leave, which are not inlined, so that their locals add
// nothing to the stack a request touches (each cache line of it costs a
// miss when the connection's goroutine comes back to it).
func (g *Gateway) handle(ctx *fasthttp.RequestCtx, snap *snapshot) (*route, error) {
	rt, ri, logged, err := enter(ctx, snap)
	if rt != nil {
		err = g.run(ctx, rt)
	}
	leave(ctx, snap, rt, ri, logged, err)
	return rt, err
}

// enter checks the request, finds its route and begins its observation.
// With no route (nil), the answer is written and err says why.
//
//go:noinline
func enter(ctx *fasthttp.RequestCtx, snap *snapshot) (rt *route, ri *reqInfo, logged bool, err error) {
	o := snap.obs
	logged = o.log != nil
	if err = checkRequest(ctx, snap); err != nil {
		ctx.SetConnectionClose()
		ri = o.begin(ctx, logged)
		writeError(ctx, err, "")
		return nil, ri, logged, err
	}
	id, ok := matchRoute(snap.table, ctx)
	if !ok {
		ri = o.begin(ctx, logged)
		writeError(ctx, errNoRoute, "")
		return nil, ri, logged, errNoRoute
	}
	rt = snap.routes[id]
	logged = logged && rt.sampled()
	ri = o.begin(ctx, logged)
	if ri != nil && ri.span != nil {
		ri.routeMatched(ctx, rt)
	}
	rt.metrics.InFlight.Inc()
	return rt, ri, logged, nil
}

// leave finishes the answer of route rt (nil: enter answered) after its
// pipeline returned err: the error page or the answer's gathering, the
// route's metrics, the request id and the request's observation.
//
//go:noinline
func leave(ctx *fasthttp.RequestCtx, snap *snapshot, rt *route, ri *reqInfo, logged bool, err error) {
	if rt != nil {
		if err != nil {
			writeRouteError(ctx, err, rt)
		} else {
			gatherAnswer(ctx)
		}
		m := rt.metrics
		if !countsAtEnd(ctx) {
			m.Request(ctx.Method(), ctx.Response.StatusCode())
		}
		m.Duration.Observe(time.Since(ctx.Time()).Seconds())
		m.InFlight.Dec()
	}
	answerRequestID(ctx)
	if ri != nil {
		snap.obs.end(ctx, ri, rt, snap.trusted, err, logged)
	}
}

// matchRoute looks ctx's request up in the route table, with the Params
// it needs in a frame of its own rather than in its caller's.
//
//go:noinline
func matchRoute(t *router.Table, ctx *fasthttp.RequestCtx) (int, bool) {
	var params router.Params
	return t.Match(ctx.Method(), ctx.Host(), ctx.Path(), &params)
}

// run runs the route's pipeline. A panic becomes a 500 and a log line,
// never a dead process: fasthttp does not recover panics itself.
func (g *Gateway) run(ctx *fasthttp.RequestCtx, rt *route) (err error) {
	defer func() {
		if p := recover(); p != nil {
			g.log.Error("gateway: panic while handling a request",
				"route", rt.name, "panic", p, "stack", string(debug.Stack()))
			err = errInternal
		}
	}()
	return rt.handle(ctx)
}

// serveExpect decides on "Expect: 100-continue" before the client sends
// its body: a declared body over the route's limit is refused with 413
// right away, without inviting the client to send it.
func (g *Gateway) serveExpect(ctx *fasthttp.RequestCtx) int {
	snap := g.current.Load()
	if err := checkRequest(ctx, snap); err != nil {
		// Refused before the client sends its body.
		writeError(ctx, err, "")
		answerRequestID(ctx)
		g.unmatched.Request(ctx.Method(), statusOf(err))
		return statusOf(err)
	}
	id, ok := snap.table.Match(ctx.Method(), ctx.Host(), ctx.Path(), nil)
	if !ok || ctx.Request.Header.ContentLength() <= snap.routes[id].maxBody {
		return fasthttp.StatusContinue
	}
	rt := snap.routes[id]
	writeError(ctx, httpx.ErrBodyTooLarge, rt.name)
	answerRequestID(ctx)
	rt.metrics.Request(ctx.Method(), fasthttp.StatusRequestEntityTooLarge)
	return fasthttp.StatusRequestEntityTooLarge
}

// serveParseError answers a request fasthttp could not read.
func (g *Gateway) serveParseError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	e := httpx.ErrBadRequest
	switch {
	case errors.As(err, &small):
		e = httpx.ErrHeaderTooLarge
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		e = httpx.ErrBodyTooLarge
	case errors.As(err, &netErr) && netErr.Timeout():
		e = httpx.ErrRequestTimeout
	}
	writeError(ctx, e, "")
	answerRequestID(ctx)
	g.unmatched.Request(nil, statusOf(e))
}

// fasthttpLogger sends fasthttp's own log lines to slog.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("fasthttp: " + fmt.Sprintf(format, args...))
}

// Config returns the configuration serving now.
func (g *Gateway) Config() *config.Config {
	return g.current.Load().cfg
}

// discoveryStatus turns the registry's status into the metrics' terms.
func discoveryStatus(reg *discovery.Registry) []metrics.ServiceStatus {
	st := reg.Status()
	out := make([]metrics.ServiceStatus, len(st))
	now := time.Now()
	for i, s := range st {
		out[i] = metrics.ServiceStatus{
			Source: s.Source, Service: s.Service, Instances: s.Instances,
			Updates: s.Updates, Errors: s.Errors, Staleness: s.Staleness(now),
		}
	}
	return out
}

// clientConns is the number of client connections open on the
// listeners Serve was given, and how many of them are parked idle.
func (g *Gateway) clientConns() (open, parked int) {
	g.lnMu.Lock()
	defer g.lnMu.Unlock()
	for _, il := range g.idleLns {
		open += il.open()
		parked += il.parked()
	}
	return open, parked
}
