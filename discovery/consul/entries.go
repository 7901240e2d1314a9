package consul

import (
	"maps"
	"net"
	"strconv"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/fastgate/gateway/discovery"
)

// endpoints turns the health endpoint's entries into a sorted list of
// endpoints and the number of entries left out as unreadable. With
// passingOnly false, instances in maintenance mode are left out too (not
// counted: they are readable, only out of service).
func endpoints(entries []*api.ServiceEntry, passingOnly bool) ([]discovery.Endpoint, int) {
	eps := make([]discovery.Endpoint, 0, len(entries))
	invalid := 0
	for _, e := range entries {
		if e == nil || e.Service == nil {
			invalid++
			continue
		}
		status := e.Checks.AggregatedStatus()
		if !passingOnly && status == api.HealthMaint {
			continue
		}
		ep, ok := endpoint(e, status)
		if !ok {
			invalid++
			continue
		}
		eps = append(eps, ep)
	}
	return discovery.SortEndpoints(eps), invalid
}

// endpoint converts one entry whose aggregated check status is status:
// the service's address (the node's when the service has none) and port,
// its weight for that status, and its metadata (zone, version, ...).
func endpoint(e *api.ServiceEntry, status string) (discovery.Endpoint, bool) {
	host := e.Service.Address
	if host == "" && e.Node != nil {
		host = e.Node.Address
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	port := e.Service.Port
	if host == "" || port <= 0 || port > 65535 {
		return discovery.Endpoint{}, false
	}
	// Consul's weights: Passing for a healthy instance, Warning for one
	// with a warning check. Agents fill in 1 for both when a service is
	// registered without weights; older ones may send 0.
	weight := e.Service.Weights.Passing
	if status == api.HealthWarning && e.Service.Weights.Warning > 0 {
		weight = e.Service.Weights.Warning
	}
	ep := discovery.Endpoint{
		Addr:   net.JoinHostPort(host, strconv.Itoa(port)),
		Weight: max(weight, 1),
	}
	if len(e.Service.Meta) > 0 {
		ep.Meta = maps.Clone(e.Service.Meta)
	}
	return ep, true
}
