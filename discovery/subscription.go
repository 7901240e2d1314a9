package discovery

import (
	"sync"
	"sync/atomic"
	"time"
)

// Subscription is one subscriber's view of a watched service: the
// current Set, swapped whenever the service's list changes, and signals
// for the changes. Safe for concurrent use.
type Subscription struct {
	r  *Registry
	w  *watch
	hs HealthSettings

	set     atomic.Pointer[Set]
	changed chan struct{} // capacity 1: pending change signals collapse
	ready   chan struct{}
	isReady bool // guarded by Registry.mu
	once    sync.Once
}

func newSubscription(r *Registry, w *watch, hs HealthSettings) *Subscription {
	return &Subscription{
		r:       r,
		w:       w,
		hs:      hs,
		changed: make(chan struct{}, 1),
		ready:   make(chan struct{}),
	}
}

// Set returns the service's current instances: one atomic load, for the
// request path. Never nil; empty until the list is known, and when the
// registry answers that the service has no instance.
func (s *Subscription) Set() *Set { return s.set.Load() }

// Changed returns a channel that receives after the Set was replaced.
// Signals collapse: one receive may stand for several changes, so read
// Set after each. For the owner of connection pools that must follow
// the instance list.
func (s *Subscription) Changed() <-chan struct{} { return s.changed }

// Ready returns a channel that is closed once the Set holds a known
// list: the registry answered, or the list came from an earlier watch or
// the state file. A gateway may wait on it (with a timeout) before it
// serves.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Source returns the source name given to Subscribe.
func (s *Subscription) Source() string { return s.w.key.source }

// Service returns the service name given to Subscribe.
func (s *Subscription) Service() string { return s.w.key.service }

// Close ends the subscription. Closing the last Subscription of a
// service stops its watch (and waits for it). The Set stays readable.
// Safe to call more than once; always returns nil.
func (s *Subscription) Close() error {
	s.once.Do(func() { s.r.unsubscribe(s) })
	return nil
}

// markReady closes ready once. Registry.mu is held.
func (s *Subscription) markReady() {
	if !s.isReady {
		s.isReady = true
		close(s.ready)
	}
}

// notify signals a change without blocking.
func (s *Subscription) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// ServiceStatus is the state of one watched service, for metrics and the
// admin listener.
type ServiceStatus struct {
	Source  string
	Service string
	// Subscribers is the number of open Subscriptions sharing the watch.
	Subscribers int
	// Instances is the number of endpoints in the current list.
	Instances int
	// Known is true when the list is known: synced, or carried over from
	// an earlier watch or the state file. False until the registry first
	// answers when there was nothing to carry over.
	Known bool
	// Restored is true while the list comes from the state file and the
	// registry has not answered since.
	Restored bool
	// Started is when this watch started.
	Started time.Time
	// LastSync is when the registry last answered (changed or not); zero
	// if it has not since Started. With Consul's blocking queries an
	// answer comes at least every WaitTime even when nothing changes.
	LastSync time.Time
	// KnownSync is when the registry last answered for the list the
	// watch started with, before Started: the time the state file
	// recorded, or the last answer to an earlier watch of the service.
	// Zero when the watch started without a list.
	KnownSync time.Time
	// LastChange is when the list last changed; zero if never since Started.
	LastChange time.Time
	// Updates counts the list changes applied since Started.
	Updates uint64
	// Errors counts the failed attempts to read the registry.
	Errors uint64
	// Invalid counts registry entries left out because they could not
	// be read (malformed values, no address).
	Invalid uint64
	// LastError is the text of the last failure; "" if none.
	LastError string
	// LastErrorAt is when LastError happened.
	LastErrorAt time.Time
}

// Staleness returns how long the list has gone without confirmation
// from the registry at now: now minus LastSync; when the registry has not
// answered since Started, minus KnownSync (a list restored from the state
// file is as old as the file says), or minus Started without one.
func (st ServiceStatus) Staleness(now time.Time) time.Duration {
	switch {
	case !st.LastSync.IsZero():
		return now.Sub(st.LastSync)
	case !st.KnownSync.IsZero():
		return now.Sub(st.KnownSync)
	}
	return now.Sub(st.Started)
}
