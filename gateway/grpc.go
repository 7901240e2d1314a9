package gateway

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/internal/httpx"
)

// GRPCFactory builds the backend of a grpc route: its schema, method and
// connection. cmd/gateway passes the gRPC bridge's. It is called when a
// route is built, at start and at each reload that changes the route.
// events receives what the backend learns outside of Serve's return.
type GRPCFactory func(rc *config.Route, addrs AddrSource, events GRPCEvents) (GRPCBackend, error)

// GRPCCheck checks a grpc route without dialling, for gateway validate
// and dry-run reloads: it returns the error building the route would
// return, or a note saying what it could not check offline ("" when it
// checked everything). cmd/gateway passes the gRPC bridge's.
type GRPCCheck func(rc *config.Route) (note string, err error)

// GRPCEvents receives what a grpc route's backend reports besides Serve's
// return value (the route's metrics). Safe for concurrent use.
type GRPCEvents interface {
	// GRPCCode counts one call that ended with code, for a call whose
	// end Serve did not see (a server stream, written after it
	// returned).
	GRPCCode(code string)
	// GRPCSchemaReady records whether the route has the schema its
	// method needs (false while reflection cannot reach the server).
	GRPCSchemaReady(ready bool)
}

// GRPCBackend answers the requests of one grpc route. Safe for concurrent
// use.
type GRPCBackend interface {
	// Serve calls the route's method for the request in ctx, within
	// deadline, and writes the answer into ctx.Response: the method's
	// answer as JSON, or the status its gRPC code maps to with the
	// error's JSON body, or 400 when the request could not build the
	// method's message (then nothing was sent). It returns the gRPC
	// status code's name ("OK", "UNAVAILABLE", ...), or "" when nothing
	// was sent or when the code is known only later and counted through
	// GRPCEvents (a stream).
	Serve(ctx *fasthttp.RequestCtx, deadline time.Time) (code string)
	// Close releases the backend's connection.
	Close() error
}

// AddrSource gives the "host:port" addresses a grpc route calls.
type AddrSource interface {
	// Addrs returns the current addresses.
	Addrs() []string
	// Changed is signalled when Addrs may have changed; nil for a fixed
	// list.
	Changed() <-chan struct{}
}

// fixedAddrs is a static target list.
type fixedAddrs []string

func (f fixedAddrs) Addrs() []string          { return f }
func (f fixedAddrs) Changed() <-chan struct{} { return nil }

// discoveredAddrs follows a service in a registry.
type discoveredAddrs struct{ sub *discovery.Subscription }

func (d discoveredAddrs) Addrs() []string {
	insts := d.sub.Set().Instances()
	out := make([]string, 0, len(insts))
	for _, in := range insts {
		out = append(out, in.Addr)
	}
	return out
}

func (d discoveredAddrs) Changed() <-chan struct{} { return d.sub.Changed() }

// grpcStep calls the route's gRPC method.
type grpcStep struct {
	route   *route
	backend GRPCBackend
	sub     *discovery.Subscription // for a discovered target; nil otherwise
	timeout time.Duration
}

func buildGRPCStep(b *routeBuild) (step, error) {
	if b.rc.GRPC == nil {
		return nil, nil
	}
	s, err := b.d.newGRPCStep(b.rt, b.rc)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *grpcStep) wrap(handler) handler { return s.serve }

func (s *grpcStep) drainTime() time.Duration { return s.timeout }

func (d *deps) newGRPCStep(rt *route, rc *config.Route) (*grpcStep, error) {
	g := rc.GRPC
	s := &grpcStep{route: rt, timeout: g.Timeout}
	if d.check { // a configuration check does not dial
		if d.grpcCheck == nil {
			return s, nil
		}
		note, err := d.grpcCheck(rc)
		if note != "" {
			d.notes = append(d.notes, "route "+rc.Name+": grpc: "+note)
		}
		return s, err
	}
	if d.grpc == nil {
		return nil, errors.New("this gateway was built without gRPC support")
	}
	var addrs AddrSource
	source, service, discovered := grpcService(g.Target)
	if discovered {
		if d.registry == nil {
			return nil, fmt.Errorf("target %q: no %s registry was configured at start (it needs a restart)", g.Target, source)
		}
		sub, err := d.registry.Subscribe(source, service, discovery.HealthSettings{})
		if err != nil {
			return nil, err
		}
		wait := time.NewTimer(discoveryWait)
		select {
		case <-sub.Ready():
		case <-wait.C:
		}
		wait.Stop()
		s.sub = sub
		addrs = discoveredAddrs{sub}
	} else {
		var list fixedAddrs
		for _, a := range strings.Split(g.Target, ",") {
			list = append(list, strings.TrimSpace(a))
		}
		addrs = list
	}
	b, err := d.grpc(rc, addrs, rt.metrics)
	if err != nil {
		s.close()
		return nil, err
	}
	s.backend = b
	return s, nil
}

// grpcService splits "consul://name" or "etcd://name".
func grpcService(target string) (source, service string, ok bool) {
	for _, src := range []string{config.SourceConsul, config.SourceEtcd} {
		if name, found := strings.CutPrefix(target, src+"://"); found {
			return src, name, true
		}
	}
	return "", "", false
}

func (s *grpcStep) serve(ctx *fasthttp.RequestCtx) error {
	h := &ctx.Request.Header
	id := h.Peek(httpx.HeaderRequestID)
	if len(id) == 0 {
		var scratch [64]byte
		h.SetBytesV(httpx.HeaderRequestID, httpx.AppendRequestID(scratch[:0]))
		id = h.Peek(httpx.HeaderRequestID)
	}
	ctx.Response.Header.SetBytesV(httpx.HeaderRequestID, id)
	code := s.backend.Serve(ctx, ctx.Time().Add(s.timeout))
	if code != "" {
		s.route.metrics.GRPCCode(code)
	}
	return nil
}

func (s *grpcStep) close() {
	if s.backend != nil {
		_ = s.backend.Close()
	}
	if s.sub != nil {
		_ = s.sub.Close()
	}
}
