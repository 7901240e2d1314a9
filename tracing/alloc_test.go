//go:build !race

package tracing

import (
	"testing"
	"time"
)

// TestAllocations holds the propagation path, and a span not recorded,
// at zero allocations.
func TestAllocations(t *testing.T) {
	header := []byte(sampleTP)
	state := []byte("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
	buf := make([]byte, 0, 64)
	unsampled := sampleSC
	unsampled.Flags = 0
	var off *Tracer
	tr := mustNew(t, Settings{Endpoint: "127.0.0.1:1", Insecure: true, Ratio: 0})
	now := time.Now()
	tests := []struct {
		desc string
		give func()
	}{
		{desc: "ParseTraceparent", give: func() { ParseTraceparent(header) }},
		{desc: "Child", give: func() { sampleSC.Child() }},
		{desc: "Child of invalid", give: func() { SpanContext{}.Child() }},
		{desc: "AppendTraceparent", give: func() { buf = sampleSC.AppendTraceparent(buf[:0]) }},
		{desc: "AppendTraceID", give: func() { buf = sampleSC.AppendTraceID(buf[:0]) }},
		{desc: "ValidTracestate", give: func() { ValidTracestate(state) }},
		{desc: "propagate", give: func() {
			sc, _ := ParseTraceparent(header)
			buf = sc.Child().AppendTraceparent(buf[:0])
		}},
		{desc: "nil Tracer", give: func() {
			sp := off.Start("gateway", sampleSC, now)
			sp.SetString("k", "v")
			sp.SetInt("n", 1)
			buf = sp.Outgoing(sampleSC).AppendTraceparent(buf[:0])
			sp.End(now)
		}},
		{desc: "unsampled parent", give: func() {
			sp := tr.Start("gateway", unsampled, now)
			buf = sp.Outgoing(unsampled).AppendTraceparent(buf[:0])
			sp.End(now)
		}},
		{desc: "new trace at ratio 0", give: func() {
			sp := tr.Start("gateway", SpanContext{}, now)
			buf = sp.Outgoing(SpanContext{}).AppendTraceparent(buf[:0])
			sp.End(now)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if n := testing.AllocsPerRun(1000, tt.give); n != 0 {
				t.Errorf("%v allocations, want 0", n)
			}
		})
	}
}
