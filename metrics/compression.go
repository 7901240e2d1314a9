package metrics

import "github.com/prometheus/client_golang/prometheus"

// The metrics of response compression.

// compressionMetrics are the families of compression, registered by New.
type compressionMetrics struct {
	bytes   *prometheus.CounterVec
	skipped *prometheus.CounterVec
}

func newCompressionMetrics() *compressionMetrics {
	return &compressionMetrics{
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_compression_bytes_total",
			Help: "Bytes of compressed answers before (side=in) and after (side=out) compression, by route and encoding.",
		}, []string{"route", "encoding", "side"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_compression_skipped_total",
			Help: "Answers of routes with compression sent as they were, by route and reason (client, type, size, status, encoded, no_transform, stream, head, busy).",
		}, []string{"route", "reason"}),
	}
}

func (m *compressionMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.bytes, m.skipped}
}

func (m *compressionMetrics) forget(route string) {
	m.bytes.DeletePartialMatch(prometheus.Labels{"route": route})
	m.skipped.DeletePartialMatch(prometheus.Labels{"route": route})
}

// SkipReason says why an answer was not compressed: the reason label of
// gateway_compression_skipped_total.
type SkipReason uint8

// Why answers go uncompressed.
const (
	// SkipClient: the client accepts none of the route's encodings.
	SkipClient SkipReason = iota
	// SkipType: the answer's type is not on the route's list.
	SkipType
	// SkipSize: the answer is smaller than min_size.
	SkipSize
	// SkipStatus: 206, 204, 304 or 1xx.
	SkipStatus
	// SkipEncoded: the answer has a Content-Encoding already.
	SkipEncoded
	// SkipNoTransform: Cache-Control: no-transform.
	SkipNoTransform
	// SkipStream: an event stream, which must flow unbuffered.
	SkipStream
	// SkipHead: the answer to a HEAD request, which has no body.
	SkipHead
	// SkipBusy: a streamed answer while the route's max_streams
	// answers were being compressed already.
	SkipBusy
	// NumSkipReasons counts the reasons.
	NumSkipReasons
)

var skipReasons = [NumSkipReasons]string{"client", "type", "size", "status", "encoded", "no_transform", "stream", "head", "busy"}

// String returns the label value of r.
func (r SkipReason) String() string {
	if r >= NumSkipReasons {
		return "type"
	}
	return skipReasons[r]
}

// Compression is one route's compression series, made when the route is
// built. Safe for concurrent use.
type Compression struct {
	// In and Out count the bytes before and after compression, by the
	// index of the encoding in the list the series were made for.
	In, Out []prometheus.Counter
	// Skipped counts answers sent as they were, by reason.
	Skipped [NumSkipReasons]prometheus.Counter
}

// Compression returns the route's compression series for encodings
// (their tokens: "gzip", "br", "zstd"); every series is exported from
// the start, at 0.
func (r *Route) Compression(encodings []string) *Compression {
	m := r.parent.compression
	c := &Compression{}
	for _, e := range encodings {
		c.In = append(c.In, m.bytes.WithLabelValues(r.name, e, "in"))
		c.Out = append(c.Out, m.bytes.WithLabelValues(r.name, e, "out"))
	}
	for i, reason := range skipReasons {
		c.Skipped[i] = m.skipped.WithLabelValues(r.name, reason)
	}
	return c
}
