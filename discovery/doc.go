// Package discovery holds upstream instances and the balancers that pick
// one of them per request.
//
// A [Set] is an immutable list of [*Instance] built once from the
// [Endpoint]s a source reports (a static list now; Consul and etcd
// watchers later). The caller keeps the current Set in an
// atomic.Pointer[Set] and swaps it when the list changes; [NewSetFrom]
// builds the new Set so that an instance whose address is still listed
// keeps its live state (in-flight count, failures, cooldown) across the
// swap. Requests that started on the old Set finish on it.
//
// A [Balancer] holds the per-upstream pick state (counters) and is shared
// by every request of one route or upstream; [NewBalancer] makes one of
// the kinds [RoundRobin], [Weighted] or [LeastRequest].
//
// The request path, for one attempt:
//
//	set := current.Load()
//	in := bal.Pick(set, now, prev) // prev: the instance that just failed, or nil
//	in.Acquire()
//	err := forward(in.Addr)
//	in.Release()
//	if isConnectFailure(err) { in.ReportFailure(now) } else { in.ReportSuccess() }
//
// Pick, Acquire, Release and the Report methods take no lock and allocate
// nothing. Time is an input (now, in Unix nanoseconds), so the caller reads
// the clock once per request and tests step it.
//
// # Passive health
//
// With [HealthSettings.MaxFailures] > 0, an instance that fails to connect
// MaxFailures times in a row is down for [HealthSettings.Cooldown]. A
// success resets the count. When the cooldown ends the instance is offered
// again, as if half-open: one more failure, before any success, puts it
// down for another cooldown.
//
// # Choice rules shared by every balancer
//
// An instance is a candidate when it is available (not in cooldown) and is
// not the skip instance passed to Pick (the one a retry just failed on; an
// instance of an older Set with the same address counts as the same).
//
// Panic mode: when no instance is a candidate, Pick ignores health, as
// Envoy does below its panic threshold, and picks among all instances,
// still avoiding skip if any other instance exists. A down upstream is
// then tried rather than answered with "no instance". Pick returns nil only
// for an empty (or nil) Set; a Set of one instance always yields it.
package discovery
