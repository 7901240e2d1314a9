package discovery

import (
	"cmp"
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"time"
)

// Watcher follows the instances of services in one registry (Consul,
// etcd, a static list). Implementations are safe for concurrent use: a
// Registry runs one Watch per service it follows, all at once.
//
// A watcher reports more than the list itself, so that the Registry can
// tell a quiet registry from an unreachable one: every successful answer
// (changed or not) and every failed attempt is one call of send.
type Watcher interface {
	// Watch follows service until ctx ends, then returns nil. It calls
	// send, from one goroutine at a time, after each attempt to read the
	// service: an Update with Changed and the complete new list when the
	// registry answered something else than last time (the first answer
	// always counts as a change), one without Changed when it answered
	// the same list, one with Err when the attempt failed. A watcher
	// retries failures on its own (with a backoff) and never reports an
	// empty list because the registry is unreachable. send must return
	// quickly. A non-nil error means the service cannot be watched at all
	// (a name the registry cannot hold); the Registry reports it and
	// tries again later.
	Watch(ctx context.Context, service string, send func(Update)) error
}

// Update is one result of a Watcher's attempt to read a service.
type Update struct {
	// Endpoints is the service's complete instance list, sorted by Addr,
	// each Addr once (see SortEndpoints). Set only when Changed; an empty
	// list from a registry that answered is a valid answer (no instance).
	// It belongs to the receiver.
	Endpoints []Endpoint
	// Changed is true when Endpoints differs from the list of the last
	// successful attempt, and on the first successful attempt.
	Changed bool
	// Err is nil when the registry answered. Otherwise the attempt
	// failed, nothing else is set, and the last list stays in use.
	Err error
	// Invalid counts the entries of this answer that could not be read
	// (a malformed value, no address or port) and were left out.
	Invalid int
}

// SortEndpoints sorts eps by Addr, in place, and drops the entries whose
// Addr is already listed (the first one given wins). It returns the
// shortened slice. Watchers give their lists in this form, so that two
// equal lists compare equal with EqualEndpoints.
func SortEndpoints(eps []Endpoint) []Endpoint {
	slices.SortStableFunc(eps, func(a, b Endpoint) int { return cmp.Compare(a.Addr, b.Addr) })
	return slices.CompactFunc(eps, func(a, b Endpoint) bool { return a.Addr == b.Addr })
}

// EqualEndpoints reports whether a and b list the same endpoints (Addr,
// Weight and Meta) in the same order. A nil and an empty list are equal.
func EqualEndpoints(a, b []Endpoint) bool {
	return slices.EqualFunc(a, b, func(x, y Endpoint) bool {
		return x.Addr == y.Addr && x.Weight == y.Weight && maps.Equal(x.Meta, y.Meta)
	})
}

// Backoff is a capped exponential backoff with jitter, for watchers that
// retry a registry. The zero value waits between 250ms and 30s.
type Backoff struct {
	// Min is the base delay, before the first retry. 0 (or less) means 250ms.
	Min time.Duration
	// Max caps the delay. 0 (or less) means 30s; a Max below Min is Min.
	Max time.Duration
}

// Delay returns how long to wait before retry number n (1 for the first
// retry after a failure): Min·2^(n-1), capped at Max, of which a random
// part up to one half is taken off, so that many watchers that failed
// together do not retry together.
func (b Backoff) Delay(n int) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 250 * time.Millisecond
	}
	if hi <= 0 {
		hi = 30 * time.Second
	}
	hi = max(hi, lo)
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d - rand.N(d/2+1)
}

// Sleep waits for d or until ctx ends, whichever comes first, and
// reports whether the whole of d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Static is a Watcher over fixed lists: service name to its endpoints.
// A service not in the map has no instance. Useful for upstreams whose
// targets are written in the config, and for tests. Safe for concurrent
// use as long as the map is not changed.
type Static map[string][]Endpoint

var _ Watcher = Static(nil)

// Watch sends the service's list once, then waits until ctx ends.
func (s Static) Watch(ctx context.Context, service string, send func(Update)) error {
	eps := SortEndpoints(slices.Clone(s[service]))
	send(Update{Endpoints: eps, Changed: true})
	<-ctx.Done()
	return nil
}
