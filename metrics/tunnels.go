package metrics

import "github.com/prometheus/client_golang/prometheus"

// The metrics of WebSocket tunnels.

// tunnelMetrics are the families of tunnels, registered by New.
type tunnelMetrics struct {
	open   *prometheus.GaugeVec
	closed *prometheus.CounterVec
	bytes  *prometheus.CounterVec
}

func newTunnelMetrics() *tunnelMetrics {
	return &tunnelMetrics{
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gateway_websocket_tunnels_open",
			Help: "WebSocket tunnels open now, by route.",
		}, []string{"route"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_websocket_tunnels_closed_total",
			Help: "WebSocket tunnels closed, by route and reason (client, upstream, idle, lifetime, reload, shutdown).",
		}, []string{"route", "reason"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_websocket_bytes_total",
			Help: "Bytes piped through WebSocket tunnels, by route and direction (to_upstream, to_client).",
		}, []string{"route", "direction"}),
	}
}

func (m *tunnelMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.open, m.closed, m.bytes}
}

func (m *tunnelMetrics) forget(route string) {
	m.open.DeleteLabelValues(route)
	m.closed.DeletePartialMatch(prometheus.Labels{"route": route})
	m.bytes.DeletePartialMatch(prometheus.Labels{"route": route})
}

// TunnelCloseReason says why a tunnel closed: the reason label of
// gateway_websocket_tunnels_closed_total.
type TunnelCloseReason uint8

// Why tunnels close.
const (
	// CloseClient: the client closed its side, or writing to it failed.
	CloseClient TunnelCloseReason = iota
	// CloseUpstream: the upstream closed its side, or writing to it failed.
	CloseUpstream
	// CloseIdle: no byte either way for the route's idle_timeout.
	CloseIdle
	// CloseLifetime: the tunnel reached the route's max_lifetime.
	CloseLifetime
	// CloseReload: the route was removed or changed, or the tunnel's
	// target left the upstream.
	CloseReload
	// CloseShutdown: the gateway shut down.
	CloseShutdown
	numCloseReasons
)

var closeReasons = [numCloseReasons]string{"client", "upstream", "idle", "lifetime", "reload", "shutdown"}

// String returns the label value of r.
func (r TunnelCloseReason) String() string {
	if r >= numCloseReasons {
		return "client"
	}
	return closeReasons[r]
}

// Tunnels are one route's tunnel series, made when the route is built.
// Safe for concurrent use.
type Tunnels struct {
	// Open is the route's open tunnels.
	Open prometheus.Gauge
	// ToUpstream and ToClient count the bytes piped each way.
	ToUpstream, ToClient prometheus.Counter
	route                string
	closed               *prometheus.CounterVec
}

// Tunnels returns the route's tunnel series; every close reason is
// exported from the start, at 0.
func (r *Route) Tunnels() *Tunnels {
	m := r.parent.tunnels
	for _, reason := range closeReasons {
		m.closed.WithLabelValues(r.name, reason)
	}
	return &Tunnels{
		Open:       m.open.WithLabelValues(r.name),
		ToUpstream: m.bytes.WithLabelValues(r.name, "to_upstream"),
		ToClient:   m.bytes.WithLabelValues(r.name, "to_client"),
		route:      r.name,
		closed:     m.closed,
	}
}

// Closed counts one tunnel closed for reason. The series is looked up
// at each close (once per tunnel, off the request path), so that the
// tunnels a reload closes on a removed route are still counted; Forget
// drops the series again at the next reload.
func (t *Tunnels) Closed(reason TunnelCloseReason) {
	t.closed.WithLabelValues(t.route, reason.String()).Inc()
}
