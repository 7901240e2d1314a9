package tracing

import (
	"testing"
	"time"

	"github.com/fastgate/gateway/tracing/tracingtest"
)

// BenchmarkPropagate is what a request costs with export off: read the
// incoming traceparent, make the child context, write the outgoing one.
func BenchmarkPropagate(b *testing.B) {
	header := []byte(sampleTP)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		sc, _ := ParseTraceparent(header)
		buf = sc.Child().AppendTraceparent(buf[:0])
	}
}

func BenchmarkValidTracestate(b *testing.B) {
	state := []byte("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,fw529a3039@dt=abc")
	b.ReportAllocs()
	for b.Loop() {
		ValidTracestate(state)
	}
}

// BenchmarkStartEnd is the cost of the gateway's span for a request, with
// export on. The collector is a loopback receiver; spans the queue cannot
// hold are dropped, as in production.
func BenchmarkStartEnd(b *testing.B) {
	unsampled := sampleSC
	unsampled.Flags = 0
	tests := []struct {
		desc   string
		ratio  float64
		parent SpanContext
	}{
		{desc: "export off", parent: sampleSC},
		{desc: "unsampled parent", ratio: 1, parent: unsampled},
		{desc: "new trace not sampled", ratio: 0, parent: SpanContext{}},
		{desc: "sampled parent", ratio: 0, parent: sampleSC},
		{desc: "new trace sampled", ratio: 1, parent: SpanContext{}},
	}
	for _, tt := range tests {
		b.Run(tt.desc, func(b *testing.B) {
			var tr *Tracer
			if tt.desc != "export off" {
				rcv := tracingtest.NewReceiver(b)
				rcv.Discard()
				tr = mustNew(b, Settings{Endpoint: rcv.Endpoint(), Insecure: true, Ratio: tt.ratio})
			}
			buf := make([]byte, 0, 64)
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				sp := tr.Start("gateway", tt.parent, now)
				sp.SetString("http.route", "/api")
				sp.SetInt("http.response.status_code", 200)
				buf = sp.Outgoing(tt.parent).AppendTraceparent(buf[:0])
				sp.End(now)
			}
		})
	}
}
