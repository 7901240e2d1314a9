// Package tracing carries W3C Trace Context (traceparent, tracestate)
// through the gateway and, when configured, exports the gateway's own
// spans to an OpenTelemetry collector over OTLP/HTTP.
//
// # Propagation
//
// The request path uses only SpanContext and its functions, which allocate
// nothing: ParseTraceparent reads an incoming traceparent header,
// SpanContext.Child makes the context passed on to the upstream (same
// trace, same flags, a new span id), and AppendTraceparent writes it into
// a reused buffer. A tracestate header is passed on unchanged when
// ValidTracestate accepts it, and dropped otherwise.
//
// Version 00 of traceparent is parsed strictly: exactly 55 characters,
// lower-case hex, non-zero trace and parent ids. A higher version (other
// than the invalid ff) is parsed as the specification asks: its first
// four fields as version 00, provided the header is at least 55
// characters long and a '-' follows the flags when it is longer. Either
// way the context passed on is version 00. Of the flags only the bits
// version 00 defines are kept: sampled (bit 0) and random (bit 1, Trace
// Context Level 2); the rest are reset to zero, as the specification
// requires of flags a vendor does not know.
//
// # Export
//
// A Tracer (New) records spans with the OpenTelemetry SDK and sends them
// in batches from a background goroutine; a full queue drops spans
// rather than block a request. Sampling is decided once, at the start of
// the gateway's span for a request:
//
//   - a valid incoming context continues its trace, and the span is
//     recorded exactly when the incoming sampled flag is set (parent-based:
//     Settings.Ratio plays no part);
//   - without one, a new trace starts and is recorded with probability
//     Settings.Ratio, decided from its trace id as OpenTelemetry's
//     TraceIDRatioBased sampler does.
//
// A span that is not recorded is a nil *Span; every method of Span is
// safe on nil, and a nil *Tracer starts only nil spans, so code on the
// request path need not ask whether export is on.
//
// The span id of a recorded Span is chosen by this package and handed to
// the SDK, so Span.Context is both what the gateway passes downstream and
// the id of the exported span: the upstream's own spans hang under the
// gateway's span in the trace. Span.Outgoing gives the context to pass on
// whether or not the span was recorded.
package tracing
