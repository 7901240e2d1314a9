// Package consul follows services registered in Consul, for routes whose
// upstream says `discovery: consul`. Its [Watcher] implements
// discovery.Watcher; a discovery.Registry runs one Watch per service,
// however many routes use it.
//
// # What is read
//
// Each Watch queries the agent's health endpoint,
// GET /v1/health/service/:name, with the filters of [Settings]: only
// instances whose every check passes (?passing, unless IncludeFailing),
// a tag (?tag=), a datacenter (?dc=), the read mode (?stale by default,
// or ?consistent) and the ACL token (X-Consul-Token). Each entry becomes
// a discovery.Endpoint: the service's address (the node's address when
// the service was registered without one) and port, the weight
// Service.Weights.Passing (Weights.Warning for an instance with a
// warning check, when failing instances are included), and the service's
// metadata (Service.Meta: zone, version, ...). An entry without an
// address or a valid port is left out and counted as invalid.
//
// # Blocking queries
//
// The first query reads at once. Each next one is a blocking query on
// the X-Consul-Index of the last answer (?index=, ?wait=WaitTime):
// Consul holds it until the service's health changes or the wait ends.
// The index rules are those of Consul's "Blocking Queries" guide:
//
//   - an index lower than the last one (a restored snapshot, a server
//     that lags) resets it to 0: the next query reads at once and the
//     loop starts over;
//   - an index of 0 is taken as 1, so the loop never spins on
//     non-blocking reads;
//   - queries of one service start at least MinInterval apart, which
//     caps the query rate when a service churns or answers come back at
//     once;
//   - an answer that did not change the list (a wait that ran out, an
//     unrelated write) refreshes the sync time and nothing else.
//
// A failed query (connection refused, a 5xx, no answer within WaitTime +
// WaitTime/16 + Timeout) is reported as an error and retried after a
// jittered, exponential backoff (Settings.Backoff); the last list stays
// in use meanwhile. After a failure the next query reads at once rather
// than blocking on the old index, so an agent that comes back (even
// with lower indexes) is followed again without delay.
//
// # What to expect from Consul
//
// Since Consul 1.10 the agent answers blocking health queries from its
// streaming backend (X-Consul-Query-Backend: streaming). Such answers
// always carry X-Consul-Knownleader: false; this is not an outage, and
// the watcher ignores the header. A blocking query returns within
// milliseconds of a registration or deregistration, but an instance
// whose health check starts failing leaves the list only when Consul
// runs that check next: after up to the check's own interval (plus its
// timeout). Without changes a blocking query returns every WaitTime
// (plus up to WaitTime/16), so that is how old the sync time may get
// while all is well.
package consul
