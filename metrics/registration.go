package metrics

import "github.com/prometheus/client_golang/prometheus"

// RegistrationStatus is what the metrics export of this instance's
// self-registration (the top-level registration setting).
type RegistrationStatus struct {
	// Registry is "consul" or "etcd".
	Registry string
	// Instances is the live number of registered, passing instances of
	// the fleet's service; 0 while it is unknown.
	Instances int
	// Registered is true while this instance is registered.
	Registered bool
	// Reachable is true while the registry answers.
	Reachable bool
}

// WatchRegistration makes the registration metrics report what f
// returns, read at every scrape. Without it they have no series.
func (m *Metrics) WatchRegistration(f func() RegistrationStatus) { m.registration.Store(&f) }

var (
	registrationInstancesDesc = prometheus.NewDesc("gateway_registration_instances",
		"Registered, passing instances of this gateway's service as the registry lists them (0 while unknown); cluster rate limits' local fallback divides by it.", []string{"registry"}, nil)
	registrationRegisteredDesc = prometheus.NewDesc("gateway_registration_registered",
		"Whether this instance is registered (1) or not (0).", []string{"registry"}, nil)
	registrationUpDesc = prometheus.NewDesc("gateway_registration_up",
		"Whether the registry this instance registers in answers (1) or not (0).", []string{"registry"}, nil)
)

// registrationCollector exports the state of the self-registration.
type registrationCollector struct{ m *Metrics }

func (c *registrationCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- registrationInstancesDesc
	ch <- registrationRegisteredDesc
	ch <- registrationUpDesc
}

func (c *registrationCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.registration.Load()
	if f == nil {
		return
	}
	st := (*f)()
	ch <- prometheus.MustNewConstMetric(registrationInstancesDesc, prometheus.GaugeValue, float64(st.Instances), st.Registry)
	ch <- prometheus.MustNewConstMetric(registrationRegisteredDesc, prometheus.GaugeValue, boolValue(st.Registered), st.Registry)
	ch <- prometheus.MustNewConstMetric(registrationUpDesc, prometheus.GaugeValue, boolValue(st.Reachable), st.Registry)
}
