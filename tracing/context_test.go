package tracing

import (
	"strings"
	"testing"
)

const (
	sampleTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	sampleSpan  = "00f067aa0ba902b7"
	sampleTP    = "00-" + sampleTrace + "-" + sampleSpan + "-01"
)

var sampleSC = SpanContext{
	Trace: TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
	Span:  SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	Flags: FlagSampled,
}

func TestParseTraceparent(t *testing.T) {
	unsampled := sampleSC
	unsampled.Flags = 0
	random := sampleSC
	random.Flags = FlagSampled | FlagRandom
	tests := []struct {
		desc   string
		give   string
		want   SpanContext
		wantOK bool
	}{
		{desc: "sampled", give: sampleTP, want: sampleSC, wantOK: true},
		{desc: "not sampled", give: "00-" + sampleTrace + "-" + sampleSpan + "-00", want: unsampled, wantOK: true},
		{desc: "random flag kept", give: "00-" + sampleTrace + "-" + sampleSpan + "-03", want: random, wantOK: true},
		{desc: "unknown flags reset", give: "00-" + sampleTrace + "-" + sampleSpan + "-f9", want: sampleSC, wantOK: true},
		{desc: "future version, same length", give: "01-" + sampleTrace + "-" + sampleSpan + "-01", want: sampleSC, wantOK: true},
		{desc: "future version, more fields", give: "cc-" + sampleTrace + "-" + sampleSpan + "-01-what-the-future-holds", want: sampleSC, wantOK: true},
		{desc: "future version, no dash after flags", give: "cc-" + sampleTrace + "-" + sampleSpan + "-01x", wantOK: false},
		{desc: "version ff", give: "ff-" + sampleTrace + "-" + sampleSpan + "-01", wantOK: false},
		{desc: "version upper case", give: "0A-" + sampleTrace + "-" + sampleSpan + "-01", wantOK: false},
		{desc: "version not hex", give: "0g-" + sampleTrace + "-" + sampleSpan + "-01", wantOK: false},
		{desc: "version 00 too long", give: sampleTP + "-", wantOK: false},
		{desc: "version 00 trailing space", give: sampleTP + " ", wantOK: false},
		{desc: "too short", give: sampleTP[:54], wantOK: false},
		{desc: "empty", give: "", wantOK: false},
		{desc: "trace id upper case", give: "00-" + strings.ToUpper(sampleTrace) + "-" + sampleSpan + "-01", wantOK: false},
		{desc: "span id upper case", give: "00-" + sampleTrace + "-00F067AA0BA902B7-01", wantOK: false},
		{desc: "flags upper case", give: "00-" + sampleTrace + "-" + sampleSpan + "-0A", wantOK: false},
		{desc: "trace id not hex", give: "00-" + sampleTrace[:31] + "z-" + sampleSpan + "-01", wantOK: false},
		{desc: "zero trace id", give: "00-" + strings.Repeat("0", 32) + "-" + sampleSpan + "-01", wantOK: false},
		{desc: "zero span id", give: "00-" + sampleTrace + "-" + strings.Repeat("0", 16) + "-01", wantOK: false},
		{desc: "bad separator after version", give: "00_" + sampleTrace + "-" + sampleSpan + "-01", wantOK: false},
		{desc: "bad separator after trace id", give: "00-" + sampleTrace + "_" + sampleSpan + "-01", wantOK: false},
		{desc: "bad separator after span id", give: "00-" + sampleTrace + "-" + sampleSpan + "_01", wantOK: false},
		{desc: "trace id one short", give: "00-" + sampleTrace[:31] + "-" + sampleSpan + "-01x", wantOK: false},
		{desc: "span id one long", give: "00-" + sampleTrace + "-" + sampleSpan + "0-1", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, ok := ParseTraceparent([]byte(tt.give))
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("ParseTraceparent(%q) = %+v, %v; want %+v, %v", tt.give, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestTraceparentRoundTrip(t *testing.T) {
	tests := []struct {
		desc string
		give string
		want string
	}{
		{desc: "sampled", give: sampleTP, want: sampleTP},
		{desc: "not sampled", give: "00-" + sampleTrace + "-" + sampleSpan + "-00", want: "00-" + sampleTrace + "-" + sampleSpan + "-00"},
		{desc: "random", give: "00-" + sampleTrace + "-" + sampleSpan + "-03", want: "00-" + sampleTrace + "-" + sampleSpan + "-03"},
		{desc: "future version becomes 00", give: "7f-" + sampleTrace + "-" + sampleSpan + "-01-x", want: sampleTP},
		{desc: "unknown flags dropped", give: "00-" + sampleTrace + "-" + sampleSpan + "-ff", want: "00-" + sampleTrace + "-" + sampleSpan + "-03"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			sc, ok := ParseTraceparent([]byte(tt.give))
			if !ok {
				t.Fatalf("ParseTraceparent(%q) failed", tt.give)
			}
			prefix := []byte("x")
			if got := string(sc.AppendTraceparent(prefix)); got != "x"+tt.want {
				t.Errorf("AppendTraceparent = %q, want %q", got, "x"+tt.want)
			}
			if got := string(sc.AppendTraceID(nil)); got != sampleTrace {
				t.Errorf("AppendTraceID = %q, want %q", got, sampleTrace)
			}
		})
	}
	for range 1000 {
		sc := SpanContext{Trace: NewTraceID(), Span: NewSpanID(), Flags: byte(NewSpanID()[0]) & knownFlags}
		got, ok := ParseTraceparent(sc.AppendTraceparent(nil))
		if !ok || got != sc {
			t.Fatalf("round trip of %+v = %+v, %v", sc, got, ok)
		}
	}
}

func TestChild(t *testing.T) {
	unsampled := sampleSC
	unsampled.Flags = 0
	tests := []struct {
		desc string
		give SpanContext
	}{
		{desc: "sampled", give: sampleSC},
		{desc: "not sampled", give: unsampled},
		{desc: "random", give: SpanContext{Trace: sampleSC.Trace, Span: sampleSC.Span, Flags: FlagRandom | FlagSampled}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			seen := map[SpanID]bool{tt.give.Span: true}
			for range 100 {
				c := tt.give.Child()
				if c.Trace != tt.give.Trace || c.Flags != tt.give.Flags {
					t.Fatalf("Child() = %+v: trace or flags changed from %+v", c, tt.give)
				}
				if !c.IsValid() || seen[c.Span] {
					t.Fatalf("Child() = %+v: span id zero or repeated", c)
				}
				seen[c.Span] = true
			}
		})
	}
	t.Run("invalid parent starts a trace", func(t *testing.T) {
		a, b := SpanContext{}.Child(), SpanContext{Flags: FlagSampled}.Child()
		if !a.IsValid() || !b.IsValid() || a.Trace == b.Trace || a.Flags != 0 || b.Flags != 0 {
			t.Errorf("Child of invalid = %+v, %+v; want two new unsampled traces", a, b)
		}
	})
}

func TestNewIDs(t *testing.T) {
	traces, spans := map[TraceID]bool{}, map[SpanID]bool{}
	for range 10000 {
		tr, sp := NewTraceID(), NewSpanID()
		if tr == (TraceID{}) || sp == (SpanID{}) || traces[tr] || spans[sp] {
			t.Fatalf("zero or repeated id: %x %x", tr, sp)
		}
		traces[tr], spans[sp] = true, true
	}
}

func TestIsValid(t *testing.T) {
	tests := []struct {
		desc string
		give SpanContext
		want bool
	}{
		{desc: "zero", give: SpanContext{}, want: false},
		{desc: "zero span", give: SpanContext{Trace: sampleSC.Trace}, want: false},
		{desc: "zero trace", give: SpanContext{Span: sampleSC.Span}, want: false},
		{desc: "both", give: sampleSC, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := tt.give.IsValid(); got != tt.want {
				t.Errorf("IsValid() = %v, want %v", got, tt.want)
			}
		})
	}
}
