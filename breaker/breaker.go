package breaker

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// State is a breaker's state. Its numeric values are those of the
// gateway_breaker_state metric.
type State uint8

// The states of a Breaker. They have the values of gobreaker's states.
const (
	Closed   State = 0 // calls pass and their outcomes are counted
	HalfOpen State = 1 // a limited number of probe calls pass
	Open     State = 2 // no call passes
)

// String returns "closed", "half_open" or "open": the values of the
// gateway_breaker_transitions_total "to" label, so that logs and metrics
// name a state the same way.
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half_open"
	case Open:
		return "open"
	}
	return "unknown"
}

// Defaults that a zero field of Settings stands for.
const (
	DefaultWindow              = 10 * time.Second
	DefaultOpenFor             = 30 * time.Second
	DefaultConsecutiveFailures = 5
	// windowBuckets is the number of buckets the closed state's window
	// rolls in: counts older than Window fade out a tenth at a time.
	windowBuckets = 10
)

// Settings configure a Breaker. The zero value is usable: it opens after
// DefaultConsecutiveFailures failures in a row and stays open for
// DefaultOpenFor.
type Settings struct {
	// FailureRatio opens the breaker when failed calls make up at least
	// this share of the calls completed within Window, once there are at
	// least MinRequests of them. Within 0 and 1; 0 turns the ratio rule
	// off.
	FailureRatio float64
	// MinRequests is how many calls must have completed within Window
	// before FailureRatio is applied. 0 applies it from the first call.
	MinRequests uint32
	// ConsecutiveFailures opens the breaker after this many failed calls
	// in a row within Window. 0 turns this rule off, except when
	// FailureRatio is 0 too: then it is DefaultConsecutiveFailures.
	ConsecutiveFailures uint32
	// Window is how far back the closed state's counts reach. The window
	// rolls in ten steps of Window/10. 0 means DefaultWindow.
	Window time.Duration
	// OpenFor is how long the breaker stays open before it lets probes
	// through. 0 means DefaultOpenFor.
	OpenFor time.Duration
	// HalfOpenRequests is how many probe calls pass in the half-open
	// state; all of them must succeed to close the breaker. 0 means 1.
	HalfOpenRequests uint32
	// FailureStatuses are the upstream statuses counted as failures, each
	// within 100 and 599. nil means every 5xx; a non-nil list means
	// exactly its statuses (an empty one: no status at all, only
	// connection errors and timeouts). Connection errors and timeouts
	// always count.
	FailureStatuses []int
	// OnStateChange, when not nil, is called once for each change of
	// state with the breaker's name (a Set's breakers are named by their
	// target). It runs while the breaker holds its lock: it must be quick
	// (a log line, a gauge, a counter) and must not call the breaker. The
	// change from open to half-open happens at the first call (or State)
	// after OpenFor, not on a timer.
	OnStateChange func(name string, from, to State)
	// OnTarget, when not nil, is called by a Set each time it makes the
	// breaker of a target it did not hold, with the target, before the
	// breaker's first call. nil: nothing is called.
	OnTarget func(target string)
}

// statusSet holds one bit per HTTP status 0..639.
type statusSet [10]uint64

func (s *statusSet) add(status int) { s[status>>6] |= 1 << (status & 63) }

func (s *statusSet) has(status int) bool {
	return uint(status) < 640 && s[status>>6]&(1<<(status&63)) != 0
}

// normalized returns s with its zero fields replaced by their defaults.
func (s Settings) normalized() Settings {
	if s.FailureRatio == 0 && s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if s.Window == 0 {
		s.Window = DefaultWindow
	}
	if s.OpenFor == 0 {
		s.OpenFor = DefaultOpenFor
	}
	if s.HalfOpenRequests == 0 {
		s.HalfOpenRequests = 1
	}
	return s
}

func (s Settings) validate() error {
	var errs []error
	if math.IsNaN(s.FailureRatio) || s.FailureRatio < 0 || s.FailureRatio > 1 {
		errs = append(errs, fmt.Errorf("breaker: failure ratio %v: must be within 0 and 1", s.FailureRatio))
	}
	if s.Window < 0 {
		errs = append(errs, fmt.Errorf("breaker: window %v: must not be negative", s.Window))
	}
	if s.OpenFor < 0 {
		errs = append(errs, fmt.Errorf("breaker: open_for %v: must not be negative", s.OpenFor))
	}
	for _, st := range s.FailureStatuses {
		if st < 100 || st > 599 {
			errs = append(errs, fmt.Errorf("breaker: failure status %d: must be within 100 and 599", st))
		}
	}
	return errors.Join(errs...)
}

func (s Settings) statuses() statusSet {
	var set statusSet
	if s.FailureStatuses == nil {
		for st := 500; st <= 599; st++ {
			set.add(st)
		}
		return set
	}
	for _, st := range s.FailureStatuses {
		set.add(st)
	}
	return set
}

// Equal reports whether s and o build breakers that behave the same,
// defaults applied; OnStateChange and OnTarget are not compared. The
// gateway keeps a route's Breaker across a reload when its settings are
// Equal.
func (s Settings) Equal(o Settings) bool {
	a, b := s.normalized(), o.normalized()
	return a.FailureRatio == b.FailureRatio && a.MinRequests == b.MinRequests &&
		a.ConsecutiveFailures == b.ConsecutiveFailures && a.Window == b.Window &&
		a.OpenFor == b.OpenFor && a.HalfOpenRequests == b.HalfOpenRequests &&
		a.statuses() == b.statuses()
}

// The outcomes of a call as gobreaker sees them: nil is a success.
var (
	errFailed   = errors.New("breaker: call failed")
	errExcluded = errors.New("breaker: call not judged")
)

// Breaker is one circuit breaker. It is safe for concurrent use.
type Breaker struct {
	cb       *gobreaker.CircuitBreaker[struct{}]
	failures statusSet
	settings Settings
	// openUntil is when the open state ends, in Unix nanoseconds; 0 when
	// the breaker is not open. Set on each change of state.
	openUntil atomic.Int64
	// settled is true while the breaker is closed, the only trip rule is
	// a run of consecutive failures (no FailureRatio), and the last
	// outcome gobreaker counted was a success: then another success
	// changes nothing a trip rule reads, and Do runs the call without
	// asking gobreaker (two clock reads and two lock round trips), counting
	// only a failure. It is set and cleared under gobreaker's lock, in the
	// order gobreaker counts outcomes.
	settled atomic.Bool
	// open is whether gobreaker's state is other than closed, kept by
	// OnStateChange; read and written only under gobreaker's lock.
	open bool
}

// New returns a closed Breaker named name (the route, or the target of a
// Set), or the errors of s, all of them.
func New(name string, s Settings) (*Breaker, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	return build(name, s), nil
}

// build makes a Breaker from validated settings.
func build(name string, s Settings) *Breaker {
	if s.FailureStatuses != nil { // a copy that stays non-nil when empty
		s.FailureStatuses = append(make([]int, 0, len(s.FailureStatuses)), s.FailureStatuses...)
	}
	b := &Breaker{settings: s, failures: s.statuses()}
	n := s.normalized()
	st := gobreaker.Settings{
		Name:        name,
		MaxRequests: n.HalfOpenRequests,
		Interval:    n.Window,
		Timeout:     n.OpenFor,
		ReadyToTrip: tripRule(n),
		IsExcluded:  func(err error) bool { return err == errExcluded },
	}
	if bucket := n.Window / windowBuckets; bucket > 0 {
		st.BucketPeriod = bucket
	}
	if n.FailureRatio == 0 {
		// gobreaker calls this under its lock, for an outcome of the
		// current generation that it is about to count.
		st.IsSuccessful = func(err error) bool {
			ok := err == nil
			b.settled.Store(ok && !b.open)
			return ok
		}
	}
	openFor, fn := n.OpenFor, s.OnStateChange
	st.OnStateChange = func(name string, from, to gobreaker.State) {
		b.settled.Store(false)
		b.open = to != gobreaker.StateClosed
		// gobreaker keeps its own expiry to itself: note when ours ends.
		var until int64
		if to == gobreaker.StateOpen {
			until = time.Now().Add(openFor).UnixNano()
		}
		b.openUntil.Store(until)
		if fn != nil {
			fn(name, State(from), State(to))
		}
	}
	b.cb = gobreaker.NewCircuitBreaker[struct{}](st)
	return b
}

// tripRule returns the closed state's test, called after each failure
// with the counts of the window. Only completed calls count: in-flight
// calls and calls not judged are left out of the ratio.
func tripRule(s Settings) func(gobreaker.Counts) bool {
	return func(c gobreaker.Counts) bool {
		if s.ConsecutiveFailures > 0 && c.ConsecutiveFailures >= s.ConsecutiveFailures {
			return true
		}
		if s.FailureRatio <= 0 {
			return false
		}
		done := uint64(c.TotalSuccesses) + uint64(c.TotalFailures)
		if done == 0 || done < uint64(s.MinRequests) {
			return false
		}
		return float64(c.TotalFailures) >= s.FailureRatio*float64(done)
	}
}

// Name returns the name the Breaker was built with.
func (b *Breaker) Name() string { return b.cb.Name() }

// Settings returns the settings the Breaker was built with.
func (b *Breaker) Settings() Settings { return b.settings }

// State returns the current state. Past OpenFor an open breaker turns
// half-open here (calling OnStateChange).
func (b *Breaker) State() State { return State(b.cb.State()) }

// OpenRemaining returns how long after now the breaker stays open before it
// lets a probe through; 0 when it is not open, or its open time has
// passed (the next call or State turns it half-open). It neither takes
// the breaker's lock nor allocates.
func (b *Breaker) OpenRemaining(now time.Time) time.Duration {
	until := b.openUntil.Load()
	if until == 0 {
		return 0
	}
	return max(time.Duration(until-now.UnixNano()), 0)
}

// IsFailure is the failure_on rule: connErr (a connection error or a
// timeout) always fails; otherwise status fails when it is a 5xx, or,
// with Settings.FailureStatuses, when it is listed.
func (b *Breaker) IsFailure(status int, connErr bool) bool {
	return connErr || b.failures.has(status)
}

// outcome turns what a call reported into gobreaker's verdict.
func (b *Breaker) outcome(status int, connErr bool) error {
	switch {
	case connErr:
		return errFailed
	case status <= 0:
		return errExcluded
	case b.failures.has(status):
		return errFailed
	}
	return nil
}

// Do runs call unless the breaker rejects it, and counts call's outcome.
//
// call returns the upstream's status, or connErr true for a connection
// error or a timeout (status is then ignored). A call that reports
// neither (status 0 and connErr false, e.g. the client went away before
// the upstream answered) is counted neither way and gives its half-open
// probe slot back. A panic in call counts as a failure and is passed on.
//
// rejected is true when call did not run: the breaker is open, or
// half-open with all its probes taken. The gateway then serves a
// fallback. Do allocates nothing when call does not escape, as a function
// literal written at the call site does not.
func (b *Breaker) Do(call func() (status int, connErr bool)) (rejected bool) {
	if b.settled.Load() {
		b.doSettled(call)
		return false
	}
	return b.execute(call)
}

// execute runs call through gobreaker, which admits it and counts its
// outcome.
func (b *Breaker) execute(call func() (status int, connErr bool)) (rejected bool) {
	_, err := b.cb.Execute(func() (struct{}, error) {
		return struct{}{}, b.outcome(call())
	})
	return err == gobreaker.ErrOpenState || err == gobreaker.ErrTooManyRequests
}

// Settled reports whether the breaker admits every call and counts only
// failures (closed, with a trip rule that needs no count of successes):
// a call may then run without Do, and report its outcome with Record
// (a panic as Record(0, true)), which is what Do does in that state. It
// lets a caller keep Do's frames off the stack of a call that waits long.
func (b *Breaker) Settled() bool { return b.settled.Load() }

// doSettled runs call while the breaker is settled (see Breaker.settled):
// closed, so call is admitted, and a success needs no counting. A failure,
// or a panic, is counted afterwards as Record counts one: unlike a call
// through gobreaker, one that outlasted a trip and OpenFor counts against
// the half-open breaker instead of being dropped.
func (b *Breaker) doSettled(call func() (status int, connErr bool)) {
	done := false
	defer func() {
		if !done { // call panicked: count a failure and let the panic go on
			b.execute(func() (int, bool) { return 0, true })
		}
	}()
	status, connErr := call()
	done = true
	if b.outcome(status, connErr) == errFailed {
		b.execute(func() (int, bool) { return status, connErr })
	}
}

// Record counts the outcome of a call that Do already let through and
// counted, found out later: an answer that broke after Do returned (the
// upstream reset in the middle of its body). It is counted as one more
// call, unless the breaker is open or has no half-open probe free; it
// allocates nothing.
func (b *Breaker) Record(status int, connErr bool) {
	if b.settled.Load() && b.outcome(status, connErr) != errFailed {
		return // a success or no verdict changes nothing a settled breaker counts
	}
	b.execute(func() (int, bool) { return status, connErr })
}
