// Package registration registers a gateway instance in Consul or etcd
// while it runs, removes it first thing at shutdown, and follows how many
// instances of its service are registered and passing: the live count
// that a cluster rate limit's local fallback divides its limit by.
//
// # Consul
//
// The instance registers with its agent (PUT /v1/agent/service/register)
// as a service with an ID, a name, its address and port, tags and
// metadata, and one HTTP check on the instance's admin /readyz (interval,
// timeout, DeregisterCriticalServiceAfter): a draining instance, whose
// /readyz answers 503, leaves the passing list at the agent's next check,
// and one that crashed is removed by the agent after the deregister delay.
// Deregister is PUT /v1/agent/service/deregister/:id. The count is the
// number of distinct instances of GET /v1/health/service/:name?passing,
// followed with blocking queries under the index rules of discovery's
// Consul watcher. When the agent answers again after an outage, or
// answers with a lower index than before (restarted or restored), the
// instance registers again (the same ID replaces the entry), in case the
// agent came back without its state.
//
// # etcd
//
// The instance writes <prefix><service>/<id> (the layout discovery's etcd
// watcher reads, value {"address", "port", "metadata"}) under a lease of
// TTL seconds that it keeps alive; Deregister revokes the lease, so the
// key goes at once, and a crashed instance's key goes when the lease runs
// out. A lease lost anyway (it ran out while etcd could not be reached,
// it was revoked, the key was deleted, etcd came back without it) is
// replaced by a new registration. The count is the number of keys under
// <prefix><service>/: one listing, then a watch from the next revision
// that asks for a progress notice when quiet, listed again after any
// failure.
//
// # When the registry is down
//
// Nothing waits for it: Start returns at once, and every failure is
// retried with a jittered, exponential backoff. The outage is logged once
// when it starts (warn) and once when it ends (info). The count keeps its
// last value meanwhile; before the first answer it is unknown (0), and
// the rate limit uses its configured instances.
package registration
