package breaker

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxTargets is the bound of a Set made with maxTargets 0.
const DefaultMaxTargets = 1024

// Set holds one Breaker per upstream target of a route (per: target),
// each made on first use and named by its target address, so that
// Settings.OnStateChange receives the target as its name. It is safe for
// concurrent use: Get of a known target is one atomic load and a map
// lookup, without lock or allocation.
//
// A Set holds at most its maxTargets breakers. Adding one more first drops
// every breaker that is closed (a closed breaker holds nothing but recent
// counts); when none is closed it drops one of the others. A dropped
// target that comes back starts closed.
type Set struct {
	settings Settings
	max      int

	mu      sync.Mutex // serializes additions
	targets atomic.Pointer[map[string]*Breaker]
}

// NewSet returns an empty Set whose breakers use s, holding at most
// maxTargets of them (0 means DefaultMaxTargets), or the errors of s.
func NewSet(s Settings, maxTargets int) (*Set, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if maxTargets < 0 {
		return nil, errors.New("breaker: max targets must not be negative")
	}
	if maxTargets == 0 {
		maxTargets = DefaultMaxTargets
	}
	set := &Set{settings: s, max: maxTargets}
	set.targets.Store(&map[string]*Breaker{})
	return set, nil
}

// Settings returns the settings the Set's breakers are built with.
func (s *Set) Settings() Settings { return s.settings }

// Get returns the Breaker of target (an upstream's "host:port"), making
// it when the Set has none yet.
func (s *Set) Get(target string) *Breaker {
	if b := (*s.targets.Load())[target]; b != nil {
		return b
	}
	return s.add(target)
}

// OpenRemaining returns how long after now the soonest of the Set's open
// breakers stays open, that is, until some target may be probed again;
// 0 when none is open. It allocates nothing.
func (s *Set) OpenRemaining(now time.Time) time.Duration {
	var soonest time.Duration
	for _, b := range *s.targets.Load() {
		if d := b.OpenRemaining(now); d > 0 && (soonest == 0 || d < soonest) {
			soonest = d
		}
	}
	return soonest
}

// Len returns the number of breakers the Set holds.
func (s *Set) Len() int { return len(*s.targets.Load()) }

// add makes target's breaker under s.mu and publishes a new map with it.
func (s *Set) add(target string) *Breaker {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.targets.Load()
	if b := old[target]; b != nil {
		return b
	}
	next := make(map[string]*Breaker, min(len(old)+1, s.max))
	if len(old) < s.max {
		for t, b := range old {
			next[t] = b
		}
	} else {
		for t, b := range old {
			if b.State() != Closed {
				next[t] = b
			}
		}
		for t := range next { // none was closed: drop any one
			if len(next) < s.max {
				break
			}
			delete(next, t)
		}
	}
	b := build(target, s.settings)
	if fn := s.settings.OnTarget; fn != nil {
		fn(target)
	}
	next[target] = b
	s.targets.Store(&next)
	return b
}
