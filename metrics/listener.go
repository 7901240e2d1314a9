package metrics

import "github.com/prometheus/client_golang/prometheus"

// newAcceptErrors makes gateway_accept_errors_total, with every kind
// present from the start so that rate() and alerts see it.
func newAcceptErrors(kinds ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_accept_errors_total",
		Help: "Errors accepting client connections, by kind (emfile, enfile, enomem, other); the listener waits and tries again.",
	}, []string{"kind"})
	for _, k := range kinds {
		v.WithLabelValues(k)
	}
	return v
}

// AcceptErrors returns the counter of accept errors of one kind (emfile,
// enfile, enomem, other), to be kept by the caller.
func (m *Metrics) AcceptErrors(kind string) prometheus.Counter {
	return m.acceptErrors.WithLabelValues(kind)
}
