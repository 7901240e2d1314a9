// Package breaker holds the gateway's circuit breakers: one per route, or
// one per upstream target of a route (Set), and the rule of what counts as
// a failure.
//
// A Breaker is closed while its upstream answers. In the closed state it
// counts the outcomes of the last Settings.Window; when they reach the
// configured threshold (a failure ratio over at least MinRequests calls,
// or a run of ConsecutiveFailures) it opens. While open, Do runs nothing
// and reports the call as rejected, so the gateway serves a fallback
// instead. After Settings.OpenFor the breaker is half-open: exactly
// HalfOpenRequests calls are let through as probes. If all of them
// succeed it closes; the first failing probe opens it again.
//
// What counts as a failure (Breaker.IsFailure): a connection error or a
// timeout always; an answered call by its status, every 5xx by default or
// exactly the statuses of Settings.FailureStatuses. A 4xx never counts
// unless it is listed. Calls the gateway refused itself (rate limited,
// body too large) must never reach the breaker.
//
// The breakers are built on github.com/sony/gobreaker/v2, which reads the
// wall clock itself and takes no clock as input; the package's tests
// therefore use short real durations with bounded waits instead of a
// stepped clock.
//
// The check on the request path (Breaker.Do with a closure that does not
// escape, Set.Get of a known target) allocates nothing.
package breaker
