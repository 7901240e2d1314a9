package tracing

import (
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/fastgate/gateway/tracing/tracingtest"
)

// received returns the spans rcv received so far by name, and the service
// names they came with. It fails the test on a request rcv could not
// decode, and on two spans of one name.
func received(t *testing.T, rcv *tracingtest.Receiver) (map[string]*tracepb.Span, []string) {
	t.Helper()
	for _, e := range rcv.Errors() {
		t.Errorf("receiver: %s", e)
	}
	spans := rcv.Spans()
	byName := make(map[string]*tracepb.Span, len(spans))
	for _, s := range spans {
		if byName[s.GetName()] != nil {
			t.Errorf("receiver: span %q received twice", s.GetName())
		}
		byName[s.GetName()] = s
	}
	return byName, rcv.Services()
}
