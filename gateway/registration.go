package gateway

import "github.com/fastgate/gateway/metrics"

// Registration is what the gateway reads of its instance's
// self-registration (package registration, run by the caller): the live
// count of the fleet, and the state the metrics export.
type Registration interface {
	// Count returns the live number of registered, passing instances of
	// the fleet's service, at least 1 once known, 0 while unknown. It
	// must be cheap (an atomic load): a cluster rate limit calls it per
	// request while Redis is down.
	Count() int
	// RegistrationStatus returns the state for the metrics.
	RegistrationStatus() RegistrationStatus
}

// RegistrationStatus is the state of a Registration, exported as the
// gateway_registration_* metrics.
type RegistrationStatus struct {
	// Registry is "consul" or "etcd".
	Registry string
	// Instances is Count.
	Instances int
	// Registered is true while this instance is registered.
	Registered bool
	// Reachable is true while the registry answers.
	Reachable bool
}

// watchRegistration hands the live count to the cluster rate limits
// built from now on and exports the registration's state. Nil: nothing.
func (g *Gateway) watchRegistration(r Registration) {
	if r == nil {
		return
	}
	g.deps.instances = r.Count
	g.metrics.WatchRegistration(func() metrics.RegistrationStatus {
		st := r.RegistrationStatus()
		return metrics.RegistrationStatus{Registry: st.Registry, Instances: st.Instances, Registered: st.Registered, Reachable: st.Reachable}
	})
}
