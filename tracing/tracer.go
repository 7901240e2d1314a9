package tracing

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Defaults that a zero field of Settings stands for.
const (
	DefaultServiceName = "gateway"
	DefaultTimeout     = 10 * time.Second
)

// Settings configure a Tracer's export.
type Settings struct {
	// Endpoint is the collector's OTLP/HTTP address, "host:port"; spans
	// are posted to its path /v1/traces. Required.
	Endpoint string
	// Insecure sends spans over plain HTTP instead of HTTPS: for a
	// collector on loopback or an internal network. false means HTTPS.
	Insecure bool
	// Ratio is the share of new traces (requests without a valid incoming
	// traceparent) whose spans are recorded, within 0 and 1. 0 records no
	// new trace. It does not apply to a continued trace: there the
	// incoming sampled flag decides.
	Ratio float64
	// ServiceName is the service.name of the exported spans. "" means
	// DefaultServiceName.
	ServiceName string
	// Timeout bounds one export to the collector, retries included. 0
	// means DefaultTimeout.
	Timeout time.Duration
}

func (s Settings) validate() error {
	var errs []error
	if s.Endpoint == "" {
		errs = append(errs, errors.New("tracing: endpoint: required, as host:port"))
	} else if _, _, err := net.SplitHostPort(s.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("tracing: endpoint %q: must be host:port", s.Endpoint))
	}
	if !(s.Ratio >= 0 && s.Ratio <= 1) {
		errs = append(errs, fmt.Errorf("tracing: ratio %v: must be within 0 and 1", s.Ratio))
	}
	if s.Timeout < 0 {
		errs = append(errs, fmt.Errorf("tracing: timeout %v: must not be negative", s.Timeout))
	}
	return errors.Join(errs...)
}

// Tracer records the gateway's spans and exports them in batches. It is
// safe for concurrent use. A nil *Tracer records nothing: Start returns
// nil and Close does nothing.
type Tracer struct {
	provider  *sdktrace.TracerProvider
	transport *http.Transport
	tracer    trace.Tracer
	// bound is the ratio as OpenTelemetry's TraceIDRatioBased sampler
	// holds it: a new trace is recorded when the low 63 bits of its
	// trace id's last 8 bytes are below it.
	bound     uint64
	always    bool
	closeOnce sync.Once
	closeErr  error
}

// New builds a Tracer that exports to s.Endpoint. It opens no connection:
// the first batch does. Spans wait in a queue of 2048 and are sent in
// batches of up to 512 at least every 5 seconds; when the queue is full,
// new spans are dropped. The caller must Close the Tracer.
func New(s Settings) (*Tracer, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.ServiceName == "" {
		s.ServiceName = DefaultServiceName
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	// The Tracer owns its transport, so Close can end its idle
	// connections (the exporter's default transport is shared and never
	// closed).
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: s.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   s.Timeout,
		ExpectContinueTimeout: time.Second,
	}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithHTTPClient(&http.Client{Transport: transport, Timeout: s.Timeout}),
		otlptracehttp.WithEndpoint(s.Endpoint),
		otlptracehttp.WithTimeout(s.Timeout),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression),
	}
	if s.Insecure {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", s.ServiceName)))
	if err != nil {
		_ = exp.Shutdown(context.Background())
		transport.CloseIdleConnections()
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithExportTimeout(s.Timeout)),
		sdktrace.WithResource(res),
		// Start decides; the SDK records what it is asked to.
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithIDGenerator(idGenerator{}),
	)
	return &Tracer{
		provider:  provider,
		transport: transport,
		tracer:    provider.Tracer("github.com/fastgate/gateway/tracing"),
		bound:     uint64(s.Ratio * (1 << 63)),
		always:    s.Ratio >= 1,
	}, nil
}

// Close exports the spans still queued, waiting at most until ctx is done,
// and stops the export. Spans started after Close are not exported.
// Close may be called more than once; it is safe on a nil Tracer.
func (t *Tracer) Close(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.closeOnce.Do(func() {
		if err := t.provider.Shutdown(ctx); err != nil {
			t.closeErr = fmt.Errorf("tracing: close: %w", err)
		}
		t.transport.CloseIdleConnections()
	})
	return t.closeErr
}

// sampleNew reports whether a new trace with the id id is recorded.
func (t *Tracer) sampleNew(id TraceID) bool {
	if t.always {
		return true
	}
	return binary.BigEndian.Uint64(id[8:])>>1 < t.bound
}

// Start starts a span named name at start, the child of parent, and
// returns it, or nil when the span is not recorded:
//
//   - parent valid: the span belongs to parent's trace and is recorded
//     exactly when parent is sampled (parent-based; Settings.Ratio does
//     not apply);
//   - parent not valid: the span starts a new trace, recorded with
//     probability Settings.Ratio.
//
// When Start returns nil it has allocated nothing. Use Span.Outgoing (or
// Span.Context of a recorded span) for the context to pass on.
func (t *Tracer) Start(name string, parent SpanContext, start time.Time) *Span {
	if t == nil {
		return nil
	}
	var sc SpanContext
	ctx := context.Background()
	if parent.IsValid() {
		if !parent.IsSampled() {
			return nil
		}
		sc = SpanContext{Trace: parent.Trace, Span: NewSpanID(), Flags: parent.Flags}
		ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID(parent.Trace),
			SpanID:     trace.SpanID(parent.Span),
			TraceFlags: trace.TraceFlags(parent.Flags),
			Remote:     true,
		}))
	} else {
		if t.bound == 0 && !t.always {
			return nil
		}
		sc = SpanContext{Trace: NewTraceID(), Flags: FlagSampled}
		if !t.sampleNew(sc.Trace) {
			return nil
		}
		sc.Span = NewSpanID()
	}
	_, sp := t.tracer.Start(&idContext{Context: ctx, ids: sc}, name, trace.WithTimestamp(start))
	return &Span{span: sp, sc: sc}
}

// idContext hands the ids Start chose to idGenerator through the SDK.
type idContext struct {
	context.Context
	ids SpanContext
}

type idContextKey struct{}

// Value returns the idContext itself for idContextKey.
func (c *idContext) Value(key any) any {
	if key == (idContextKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// idGenerator gives the SDK the ids that Start chose, so that the span id
// passed downstream is the exported span's id. A span started some other
// way gets random ids.
type idGenerator struct{}

var _ sdktrace.IDGenerator = idGenerator{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if c, ok := ctx.Value(idContextKey{}).(*idContext); ok {
		return trace.TraceID(c.ids.Trace), trace.SpanID(c.ids.Span)
	}
	return trace.TraceID(NewTraceID()), trace.SpanID(NewSpanID())
}

func (idGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if c, ok := ctx.Value(idContextKey{}).(*idContext); ok {
		return trace.SpanID(c.ids.Span)
	}
	return trace.SpanID(NewSpanID())
}

// Span is a recorded span of the gateway's work. It is safe for concurrent
// use. A nil *Span, which Tracer.Start returns for a span not recorded,
// is valid: its methods do nothing, and Context returns the zero
// SpanContext.
type Span struct {
	span trace.Span
	sc   SpanContext
}

// Context returns the span's ids and flags: the parent to give the spans
// of the work it covers, and the context to pass downstream. It is the
// zero SpanContext for a nil Span.
func (s *Span) Context() SpanContext {
	if s == nil {
		return SpanContext{}
	}
	return s.sc
}

// Outgoing returns the context to pass downstream for a call made under
// s, whose parent was parent: s's own context when s is recorded, and
// parent.Child() when s is nil (not recorded), which keeps parent's trace
// and flags or starts an unsampled trace when parent is not valid.
func (s *Span) Outgoing(parent SpanContext) SpanContext {
	if s == nil {
		return parent.Child()
	}
	return s.sc
}

// SetString records the attribute key with a string value. The span keeps
// value: do not pass a string that aliases a reused buffer.
func (s *Span) SetString(key, value string) {
	if s != nil {
		s.span.SetAttributes(attribute.String(key, value))
	}
}

// SetInt records the attribute key with an integer value.
func (s *Span) SetInt(key string, v int64) {
	if s != nil {
		s.span.SetAttributes(attribute.Int64(key, v))
	}
}

// SetError marks the span as failed, with msg as the status description.
func (s *Span) SetError(msg string) {
	if s != nil {
		s.span.SetStatus(codes.Error, msg)
	}
}

// End ends the span at at and queues it for export. Calls after the first
// do nothing.
func (s *Span) End(at time.Time) {
	if s != nil {
		s.span.End(trace.WithTimestamp(at))
	}
}
