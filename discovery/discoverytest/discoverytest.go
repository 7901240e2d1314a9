// Package discoverytest holds what the tests of the registry-backed
// discovery sources (discovery/consul, discovery/etcd) share: a Registry
// over one source, a service's status, and a Set's addresses.
package discoverytest

import (
	"testing"

	"github.com/fastgate/gateway/discovery"
)

// Registry returns a Registry whose only source, named source, is w. It is
// closed when the test ends.
func Registry(t testing.TB, source string, w discovery.Watcher) *discovery.Registry {
	t.Helper()
	r, err := discovery.NewRegistry(discovery.RegistrySettings{Sources: map[string]discovery.Watcher{source: w}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// Status returns the status r reports for service, failing the test when
// it reports none.
func Status(t testing.TB, r *discovery.Registry, service string) discovery.ServiceStatus {
	t.Helper()
	for _, st := range r.Status() {
		if st.Service == service {
			return st
		}
	}
	t.Fatalf("no status for %s", service)
	return discovery.ServiceStatus{}
}

// Addrs returns the addresses of s's instances in order, never nil.
func Addrs(s *discovery.Set) []string {
	out := []string{}
	for _, in := range s.Instances() {
		out = append(out, in.Addr)
	}
	return out
}
