package tracing

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is an OTLP/HTTP trace receiver on loopback: it decodes what an
// exporter posts to /v1/traces, as a collector would.
type receiver struct {
	srv     *httptest.Server
	discard bool // decode, but keep no spans (for benchmarks)

	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
	errs     []string
}

func newReceiver(tb testing.TB) *receiver {
	tb.Helper()
	r := &receiver{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.serve)
	r.srv = httptest.NewServer(mux)
	tb.Cleanup(r.srv.Close)
	return r
}

// endpoint is the receiver's "host:port".
func (r *receiver) endpoint() string { return strings.TrimPrefix(r.srv.URL, "http://") }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	if err := r.decode(req); err != nil {
		r.mu.Lock()
		r.errs = append(r.errs, err.Error())
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *receiver) decode(req *http.Request) error {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			return err
		}
		defer func() { _ = zr.Close() }()
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	var msg coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &msg); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.discard {
		return nil
	}
	for _, rs := range msg.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				r.services = append(r.services, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	return nil
}

// received returns the spans received so far by name, and the service
// names they came with. It fails the test on a request it could not
// decode.
func (r *receiver) received(t *testing.T) (map[string]*tracepb.Span, []string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		t.Errorf("receiver: %s", e)
	}
	byName := make(map[string]*tracepb.Span, len(r.spans))
	for _, s := range r.spans {
		if byName[s.GetName()] != nil {
			t.Errorf("receiver: span %q received twice", s.GetName())
		}
		byName[s.GetName()] = s
	}
	return byName, r.services
}
