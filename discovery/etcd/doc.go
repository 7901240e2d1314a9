// Package etcd follows services registered in etcd (v3 API), for routes
// whose upstream says `discovery: etcd`. Its [Watcher] implements
// discovery.Watcher; a discovery.Registry runs one Watch per service
// (one per key prefix), however many routes use it.
//
// # Key layout
//
// Each instance of a service is one key:
//
//	<prefix><service>/<instance-id>
//
// with the prefix "/services/" unless Settings.Prefix says otherwise,
// for example /services/users/users-1. The service name holds no "/";
// the instance id is anything after the service's "/". The value is a
// JSON object (see [Value]):
//
//	{"address": "10.0.0.5", "port": 8080, "weight": 1, "metadata": {"zone": "a", "version": "1.2"}}
//
// address and port are required, weight defaults to 1, metadata is
// optional and becomes the instance's Meta. Two keys with the same
// address and port are one instance (the first key in key order wins).
// A value that does not read as an instance (bad JSON, no address, a port
// out of range) is left out and counted in the Update's Invalid count;
// it never stops the watch.
//
// Services should write their key under a lease that they keep alive
// ([Register] does this), so that the key of a crashed service vanishes
// when its lease runs out and the gateway stops sending it requests.
//
// # Listing and watching
//
// A Watch lists the service's keys (one Get of <prefix><service>/),
// sends the list, then watches the prefix from the listing's revision
// plus one, so no change between the two is missed, and sends the list
// after each batch of events when it changed. The watch requires a
// leader: a member cut off from its cluster ends it instead of going
// silent.
//
// When nothing happens for ProgressInterval, the watch asks etcd for a
// progress notice. The answer refreshes the sync time of a quiet
// service; no answer within RequestTimeout means etcd is unreachable (a
// watch would otherwise keep reconnecting without a word).
//
// When the watch ends, the Watch lists again and starts a new watch:
//
//   - at once when etcd compacted the revisions the watch still had to
//     deliver (ErrCompacted: it fell behind a compaction);
//   - after a jittered, exponential backoff (Settings.Backoff), with the
//     failure reported, when the watch or a listing failed: etcd
//     stopped, unreachable, without a leader, or restored with lower
//     revisions. Meanwhile the last list stays in use; an etcd that
//     comes back is followed again on the next attempt.
package etcd
