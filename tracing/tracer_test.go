package tracing

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/fastgate/gateway/tracing/tracingtest"
)

// mustNew is New for settings a test knows to be valid; the Tracer is
// closed when the test ends.
func mustNew(tb testing.TB, s Settings) *Tracer {
	tb.Helper()
	tr, err := New(s)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = tr.Close(context.Background()) })
	return tr
}

// closeNow flushes tr to its receiver.
func closeNow(t *testing.T, tr *Tracer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestNewSettings(t *testing.T) {
	tests := []struct {
		desc string
		give Settings
		want string // "" for valid settings, else parts of the error
	}{
		{desc: "minimal", give: Settings{Endpoint: "127.0.0.1:4318"}},
		{desc: "full", give: Settings{Endpoint: "otel:4318", Insecure: true, Ratio: 1, ServiceName: "edge", Timeout: time.Second}},
		{desc: "no endpoint", give: Settings{}, want: "tracing: endpoint: required"},
		{desc: "endpoint without port", give: Settings{Endpoint: "otel"}, want: `tracing: endpoint "otel": must be host:port`},
		{desc: "endpoint as URL", give: Settings{Endpoint: "http://otel:4318/v1/traces"}, want: "must be host:port"},
		{desc: "ratio above 1", give: Settings{Endpoint: "otel:4318", Ratio: 1.5}, want: "tracing: ratio 1.5: must be within 0 and 1"},
		{desc: "negative ratio and timeout", give: Settings{Endpoint: "otel:4318", Ratio: -0.1, Timeout: -time.Second},
			want: "tracing: ratio -0.1: must be within 0 and 1\ntracing: timeout -1s: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tr, err := New(tt.give)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if err := tr.Close(context.Background()); err != nil {
					t.Errorf("Close: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want it to contain %q", err, tt.want)
			}
			if tr != nil {
				t.Errorf("New returned a Tracer with an error")
			}
		})
	}
}

// TestExport follows one request: the gateway's span continues the
// client's trace, its work is recorded as child spans, and the collector
// receives all of them with the ids the gateway passed on.
func TestExport(t *testing.T) {
	rcv := tracingtest.NewReceiver(t)
	tr := mustNew(t, Settings{Endpoint: rcv.Endpoint(), Insecure: true})

	incoming, ok := ParseTraceparent([]byte(sampleTP))
	if !ok {
		t.Fatal("sample traceparent rejected")
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	req := tr.Start("gateway", incoming, t0)
	req.SetString("http.route", "/api")
	req.SetInt("http.response.status_code", 502)
	match := tr.Start("route match", req.Context(), t0.Add(time.Millisecond))
	match.End(t0.Add(2 * time.Millisecond))
	up := tr.Start("upstream call", req.Context(), t0.Add(3*time.Millisecond))
	up.SetError("connection refused")
	up.End(t0.Add(4 * time.Millisecond))
	req.End(t0.Add(5 * time.Millisecond))
	closeNow(t, tr)

	// What the gateway sends upstream is the upstream call's context.
	out := up.Outgoing(req.Context())
	if out != up.Context() || out.Trace != incoming.Trace || !out.IsSampled() {
		t.Errorf("Outgoing = %+v, want the upstream span's context %+v", out, up.Context())
	}

	spans, services := received(t, rcv)
	if len(services) == 0 || services[0] != DefaultServiceName {
		t.Errorf("service names = %q, want %q", services, DefaultServiceName)
	}
	tests := []struct {
		desc       string
		give       *Span
		wantParent SpanID
		wantStart  time.Time
		wantEnd    time.Time
		wantAttrs  map[string]string
		wantError  string
	}{
		{desc: "gateway", give: req, wantParent: incoming.Span, wantStart: t0, wantEnd: t0.Add(5 * time.Millisecond),
			wantAttrs: map[string]string{"http.route": "/api", "http.response.status_code": "502"}},
		{desc: "route match", give: match, wantParent: req.Context().Span,
			wantStart: t0.Add(time.Millisecond), wantEnd: t0.Add(2 * time.Millisecond)},
		{desc: "upstream call", give: up, wantParent: req.Context().Span,
			wantStart: t0.Add(3 * time.Millisecond), wantEnd: t0.Add(4 * time.Millisecond), wantError: "connection refused"},
	}
	if len(spans) != len(tests) {
		t.Errorf("received %d spans, want %d", len(spans), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := spans[tt.desc]
			if got == nil {
				t.Fatal("not received")
			}
			if want := incoming.Trace; hex.EncodeToString(got.GetTraceId()) != hex.EncodeToString(want[:]) {
				t.Errorf("trace id = %x, want %x", got.GetTraceId(), want)
			}
			if want := tt.give.Context().Span; hex.EncodeToString(got.GetSpanId()) != hex.EncodeToString(want[:]) {
				t.Errorf("span id = %x, want %x (the id passed on)", got.GetSpanId(), want)
			}
			if hex.EncodeToString(got.GetParentSpanId()) != hex.EncodeToString(tt.wantParent[:]) {
				t.Errorf("parent span id = %x, want %x", got.GetParentSpanId(), tt.wantParent)
			}
			if s, e := got.GetStartTimeUnixNano(), got.GetEndTimeUnixNano(); s != uint64(tt.wantStart.UnixNano()) || e != uint64(tt.wantEnd.UnixNano()) {
				t.Errorf("times = %d..%d, want %d..%d", s, e, tt.wantStart.UnixNano(), tt.wantEnd.UnixNano())
			}
			if attrs := attrMap(got.GetAttributes()); !maps.Equal(attrs, tt.wantAttrs) {
				t.Errorf("attributes = %v, want %v", attrs, tt.wantAttrs)
			}
			st := got.GetStatus()
			if tt.wantError != "" && (st.GetCode() != tracepb.Status_STATUS_CODE_ERROR || st.GetMessage() != tt.wantError) {
				t.Errorf("status = %v, want error %q", st, tt.wantError)
			}
			if tt.wantError == "" && st.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
				t.Errorf("status = %v, want no error", st)
			}
		})
	}
}

func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = strconv.FormatInt(v.IntValue, 10)
		default:
			m[kv.GetKey()] = kv.GetValue().String()
		}
	}
	return m
}

// TestSampling checks which spans are recorded and exported, and what
// each passes on.
func TestSampling(t *testing.T) {
	unsampled := sampleSC
	unsampled.Flags = 0
	tests := []struct {
		desc         string
		ratio        float64
		give         SpanContext // the incoming context
		wantRecorded bool
	}{
		{desc: "ratio 0, no parent", ratio: 0, give: SpanContext{}, wantRecorded: false},
		{desc: "ratio 1, no parent", ratio: 1, give: SpanContext{}, wantRecorded: true},
		{desc: "ratio 0, sampled parent", ratio: 0, give: sampleSC, wantRecorded: true},
		{desc: "ratio 1, unsampled parent", ratio: 1, give: unsampled, wantRecorded: false},
		{desc: "ratio 1, invalid parent with sampled flag", ratio: 1, give: SpanContext{Flags: FlagSampled}, wantRecorded: true},
		{desc: "ratio 0, invalid parent with sampled flag", ratio: 0, give: SpanContext{Flags: FlagSampled}, wantRecorded: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			rcv := tracingtest.NewReceiver(t)
			tr := mustNew(t, Settings{Endpoint: rcv.Endpoint(), Insecure: true, Ratio: tt.ratio, ServiceName: "edge"})
			sp := tr.Start("gateway", tt.give, time.Now())
			sp.SetString("k", "v")
			out := sp.Outgoing(tt.give)
			sp.End(time.Now())
			closeNow(t, tr)
			if recorded := sp != nil; recorded != tt.wantRecorded {
				t.Fatalf("recorded = %v, want %v", recorded, tt.wantRecorded)
			}
			spans, services := received(t, rcv)
			if !tt.wantRecorded {
				if len(spans) != 0 {
					t.Errorf("exported %d spans, want none", len(spans))
				}
				if !out.IsValid() || out.Span == tt.give.Span {
					t.Errorf("Outgoing = %+v: want a valid context with a new span id", out)
				}
				if tt.give.IsValid() && (out.Trace != tt.give.Trace || out.Flags != tt.give.Flags) {
					t.Errorf("Outgoing = %+v, want the trace and flags of %+v", out, tt.give)
				}
				if !tt.give.IsValid() && out.Flags != 0 {
					t.Errorf("Outgoing = %+v, want a new unsampled trace", out)
				}
				return
			}
			if out != sp.Context() || !out.IsValid() || !out.IsSampled() {
				t.Errorf("Outgoing = %+v, want the span's sampled context %+v", out, sp.Context())
			}
			if tt.give.IsValid() && out.Trace != tt.give.Trace {
				t.Errorf("trace = %x, want the parent's %x", out.Trace, tt.give.Trace)
			}
			got := spans["gateway"]
			if len(spans) != 1 || got == nil {
				t.Fatalf("exported %d spans, want the one span", len(spans))
			}
			if len(services) == 0 || services[0] != "edge" {
				t.Errorf("service names = %q, want edge", services)
			}
			if hex.EncodeToString(got.GetTraceId()) != hex.EncodeToString(out.Trace[:]) ||
				hex.EncodeToString(got.GetSpanId()) != hex.EncodeToString(out.Span[:]) {
				t.Errorf("exported ids %x/%x, want %x/%x", got.GetTraceId(), got.GetSpanId(), out.Trace, out.Span)
			}
			wantParent := ""
			if tt.give.IsValid() {
				wantParent = hex.EncodeToString(tt.give.Span[:])
			}
			if p := hex.EncodeToString(got.GetParentSpanId()); p != wantParent {
				t.Errorf("parent span id = %q, want %q", p, wantParent)
			}
		})
	}
}

// TestSampleRatio checks the ratio rule on the trace id's last 8 bytes.
func TestSampleRatio(t *testing.T) {
	id := func(last uint64) TraceID {
		var tid TraceID
		tid[0] = 1
		binary.BigEndian.PutUint64(tid[8:], last)
		return tid
	}
	tests := []struct {
		desc  string
		ratio float64
		give  TraceID
		want  bool
	}{
		{desc: "half, low id", ratio: 0.5, give: id(0), want: true},
		{desc: "half, just below", ratio: 0.5, give: id(1<<63 - 1), want: true},
		{desc: "half, at the bound", ratio: 0.5, give: id(1 << 63), want: false},
		{desc: "half, top", ratio: 0.5, give: id(1<<64 - 1), want: false},
		{desc: "quarter, below", ratio: 0.25, give: id(1<<62 - 1), want: true},
		{desc: "quarter, above", ratio: 0.25, give: id(1 << 62), want: false},
		{desc: "one, top", ratio: 1, give: id(1<<64 - 1), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tr := mustNew(t, Settings{Endpoint: "127.0.0.1:1", Insecure: true, Ratio: tt.ratio})
			if got := tr.sampleNew(tt.give); got != tt.want {
				t.Errorf("sampleNew(%x) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
	t.Run("share of new traces", func(t *testing.T) {
		tr := mustNew(t, Settings{Endpoint: "127.0.0.1:1", Insecure: true, Ratio: 0.1})
		n := 0
		for range 100000 {
			if tr.sampleNew(NewTraceID()) {
				n++
			}
		}
		if n < 9000 || n > 11000 {
			t.Errorf("%d of 100000 new traces sampled at ratio 0.1", n)
		}
	})
}

// TestNil checks that the request path needs no check for export being
// off.
func TestNil(t *testing.T) {
	var tr *Tracer
	sp := tr.Start("gateway", sampleSC, time.Now())
	if sp != nil {
		t.Fatalf("nil Tracer started %v", sp)
	}
	sp.SetString("k", "v")
	sp.SetInt("n", 1)
	sp.SetError("boom")
	sp.End(time.Now())
	if sc := sp.Context(); sc != (SpanContext{}) {
		t.Errorf("nil Span Context() = %+v, want zero", sc)
	}
	if out := sp.Outgoing(sampleSC); out.Trace != sampleSC.Trace || out.Flags != sampleSC.Flags || out.Span == sampleSC.Span {
		t.Errorf("nil Span Outgoing() = %+v, want a child of %+v", out, sampleSC)
	}
	if err := tr.Close(context.Background()); err != nil {
		t.Errorf("nil Tracer Close: %v", err)
	}
}

// TestClose checks that Close may be repeated and that spans started
// after it go nowhere.
func TestClose(t *testing.T) {
	rcv := tracingtest.NewReceiver(t)
	tr := mustNew(t, Settings{Endpoint: rcv.Endpoint(), Insecure: true, Ratio: 1})
	closeNow(t, tr)
	closeNow(t, tr)
	sp := tr.Start("late", SpanContext{}, time.Now())
	sp.End(time.Now())
	if spans, _ := received(t, rcv); len(spans) != 0 {
		t.Errorf("exported %d spans after Close", len(spans))
	}
}
