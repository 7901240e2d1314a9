package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// The metrics of routes bridged to brokers and gRPC methods.

// bridgeMetrics are the families of bridged routes, registered by New.
type bridgeMetrics struct {
	publishes       *prometheus.CounterVec
	publishDuration *prometheus.HistogramVec
	grpcRequests    *prometheus.CounterVec
	grpcSchemaReady *prometheus.GaugeVec
	brokers         atomic.Pointer[func() []BrokerStatus]
	accessLog       atomic.Pointer[func() uint64]
}

func newBridgeMetrics() *bridgeMetrics {
	return &bridgeMetrics{
		publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_publish_total",
			Help: "Publishes by route, broker and result (confirmed, accepted, unavailable, not_confirmed, no_responders, timeout, too_large).",
		}, []string{"route", "broker", "result"}),
		publishDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_publish_duration_seconds",
			Help:    "Time from a publish to the broker's confirmation (or the failure), by route and broker.",
			Buckets: DurationBuckets,
		}, []string{"route", "broker"}),
		grpcRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_grpc_requests_total",
			Help: "Calls of gRPC methods by route and the gRPC status code name (OK, NOT_FOUND, ...).",
		}, []string{"route", "grpc_code"}),
		grpcSchemaReady: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gateway_grpc_schema_ready",
			Help: "Whether a gRPC route has the schema of its method (1) or answers 503 until reflection reaches the server (0).",
		}, []string{"route"}),
	}
}

func (b *bridgeMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{b.publishes, b.publishDuration, b.grpcRequests, b.grpcSchemaReady, &brokerCollector{b: b}, &accessLogCollector{b: b}}
}

func (b *bridgeMetrics) forget(route string) {
	b.publishes.DeletePartialMatch(prometheus.Labels{"route": route})
	b.publishDuration.DeletePartialMatch(prometheus.Labels{"route": route})
	b.grpcRequests.DeletePartialMatch(prometheus.Labels{"route": route})
	b.grpcSchemaReady.DeleteLabelValues(route)
}

// BrokerStatus is what the metrics export of one declared broker.
type BrokerStatus struct {
	Name string
	Up   bool
}

// WatchBrokers sets the function that lists the declared brokers and
// whether each is connected, asked at each scrape.
func (m *Metrics) WatchBrokers(f func() []BrokerStatus) { m.bridges.brokers.Store(&f) }

var brokerUpDesc = prometheus.NewDesc("gateway_broker_up", "Whether the gateway holds a live connection to the broker (1) or not (0).", []string{"broker"}, nil)

type brokerCollector struct{ b *bridgeMetrics }

func (c *brokerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- brokerUpDesc }

func (c *brokerCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.b.brokers.Load()
	if f == nil {
		return
	}
	for _, st := range (*f)() {
		up := 0.0
		if st.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(brokerUpDesc, prometheus.GaugeValue, up, st.Name)
	}
}

// Publish is one publish route's children for one broker, made once when
// the route is built so that counting allocates nothing.
type Publish struct {
	// Duration observes each publish's wait for the broker.
	Duration prometheus.Observer
	results  map[string]prometheus.Counter
}

// Publish results.
const (
	PublishConfirmed    = "confirmed"
	PublishAccepted     = "accepted" // fire and forget: sent, not confirmed
	PublishUnavailable  = "unavailable"
	PublishNotConfirmed = "not_confirmed"
	PublishNoResponders = "no_responders" // a NATS request nothing listens for
	PublishTimeout      = "timeout"
	PublishTooLarge     = "too_large"
)

// Publish returns the publish children of the route for broker.
func (r *Route) Publish(broker string) *Publish {
	p := &Publish{
		Duration: r.parent.bridges.publishDuration.WithLabelValues(r.name, broker),
		results:  make(map[string]prometheus.Counter),
	}
	for _, res := range []string{PublishConfirmed, PublishAccepted, PublishUnavailable, PublishNotConfirmed, PublishNoResponders, PublishTimeout, PublishTooLarge} {
		p.results[res] = r.parent.bridges.publishes.WithLabelValues(r.name, broker, res)
	}
	return p
}

// Result counts one publish with result, one of the Publish* constants.
func (p *Publish) Result(result string) {
	if c := p.results[result]; c != nil {
		c.Inc()
	}
}

// GRPCCode counts one gRPC call of the route that ended with code (its
// upper-case name, e.g. "NOT_FOUND"). The series is made on first use:
// codes are a fixed set of 17.
func (r *Route) GRPCCode(code string) {
	r.parent.bridges.grpcRequests.WithLabelValues(r.name, code).Inc()
}

// GRPCSchemaReady records whether the gRPC route has the schema of its
// method. A route the metrics forgot (it left the configuration, and its
// backend still fetches until it is closed) records nothing.
func (r *Route) GRPCSchemaReady(ready bool) {
	v := 0.0
	if ready {
		v = 1
	}
	m := r.parent
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.routes[r.name] != r {
		return
	}
	m.bridges.grpcSchemaReady.WithLabelValues(r.name).Set(v)
}

// WatchAccessLog sets the function that says how many access log lines
// were dropped so far, asked at each scrape.
func (m *Metrics) WatchAccessLog(dropped func() uint64) { m.bridges.accessLog.Store(&dropped) }

var accessLogDroppedDesc = prometheus.NewDesc("gateway_access_log_dropped_total",
	"Access log lines dropped because the writer fell behind (the buffer was full).", nil, nil)

type accessLogCollector struct{ b *bridgeMetrics }

func (c *accessLogCollector) Describe(ch chan<- *prometheus.Desc) { ch <- accessLogDroppedDesc }

func (c *accessLogCollector) Collect(ch chan<- prometheus.Metric) {
	if f := c.b.accessLog.Load(); f != nil {
		ch <- prometheus.MustNewConstMetric(accessLogDroppedDesc, prometheus.CounterValue, float64((*f)()))
	}
}
