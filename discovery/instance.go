package discovery

import (
	"sync/atomic"
	"time"
)

// Endpoint is one upstream instance as a source reports it.
type Endpoint struct {
	// Addr is "host:port". It identifies the instance: a Set holds each
	// Addr once, and NewSetFrom matches instances by it.
	Addr string
	// Weight is the instance's relative share for the weighted balancer
	// and its capacity for least_request. NewSet raises a Weight below 1
	// to 1 and lowers one above MaxWeight to MaxWeight.
	Weight int
	// Meta holds a source's labels (zone, version, ...); may be nil.
	// NewSet keeps its own copy; treat the Instance's map as read-only.
	Meta map[string]string
}

// MaxWeight is the largest Endpoint.Weight a Set keeps.
const MaxWeight = 1_000_000

// DefaultCooldown is the cooldown used when passive health is on and
// HealthSettings.Cooldown is not positive. It matches nginx's fail_timeout.
const DefaultCooldown = 10 * time.Second

// HealthSettings configures passive health checks: instances that fail to
// connect are taken out of rotation for a while. The zero value turns
// passive health off.
type HealthSettings struct {
	// MaxFailures is how many connect failures in a row put an instance
	// down. 0 (or less) turns passive health off: ReportFailure is a no-op
	// and every instance is always available.
	MaxFailures int
	// Cooldown is how long an instance stays down after its MaxFailures-th
	// failure in a row (and after each later failure until a success).
	// 0 (or less) means DefaultCooldown. Ignored when MaxFailures is 0.
	Cooldown time.Duration
}

// normalized returns hs with its zero values replaced by what they mean.
func (hs HealthSettings) normalized() HealthSettings {
	if hs.MaxFailures <= 0 {
		return HealthSettings{}
	}
	if hs.Cooldown <= 0 {
		hs.Cooldown = DefaultCooldown
	}
	return hs
}

// cacheLine is the padding unit that keeps hot counters of different
// instances (and of the balancers) off each other's cache lines.
const cacheLine = 64

// state is the live part of an instance. Instances of successive Sets that
// share an Addr share one state, so counts and health carry over a swap.
// The in-flight count, written on every request, sits on its own cache
// line, away from the health fields that every Pick reads.
type state struct {
	inFlight atomic.Int64
	_        [cacheLine - 8]byte
	// fails counts connect failures since the last success.
	fails atomic.Int64
	// downUntil is the Unix nanosecond time the cooldown ends; 0 if never down.
	downUntil atomic.Int64
	_         [cacheLine - 16]byte
}

// Instance is an Endpoint plus the live state the balancers read: the
// number of requests in flight, consecutive connect failures and the end
// of a cooldown. Its Endpoint fields never change after NewSet returns.
// Safe for concurrent use.
type Instance struct {
	Endpoint
	maxFailures int64
	cooldown    int64 // nanoseconds
	st          *state
}

func newInstance(ep Endpoint, hs HealthSettings, st *state) *Instance {
	if st == nil {
		st = new(state)
	}
	return &Instance{
		Endpoint:    ep,
		maxFailures: int64(hs.MaxFailures),
		cooldown:    int64(hs.Cooldown),
		st:          st,
	}
}

// Acquire counts one more request in flight on the instance. Call it when
// a request starts using the instance, and Release when it is done.
func (in *Instance) Acquire() { in.st.inFlight.Add(1) }

// Release counts one request fewer in flight; it pairs with Acquire.
func (in *Instance) Release() { in.st.inFlight.Add(-1) }

// InFlight returns the number of requests between Acquire and Release.
func (in *Instance) InFlight() int64 { return in.st.inFlight.Load() }

// ReportSuccess records a request that reached the instance: the count of
// consecutive failures goes back to 0. It does not end a running cooldown
// (a request that started before the failures proves little); the
// cooldown runs out on its own.
func (in *Instance) ReportSuccess() {
	// Load first: the common case writes nothing, so the cache line that
	// every Pick reads stays shared between cores.
	if in.st.fails.Load() != 0 {
		in.st.fails.Store(0)
	}
}

// ReportFailure records a failure to connect at now (Unix nanoseconds).
// The MaxFailures-th failure in a row, and every failure after it until a
// success, puts the instance down until now+Cooldown. A no-op when
// passive health is off.
func (in *Instance) ReportFailure(now int64) {
	if in.maxFailures <= 0 {
		return
	}
	if in.st.fails.Add(1) >= in.maxFailures {
		in.st.downUntil.Store(now + in.cooldown)
	}
}

// Available reports whether the instance is not down at now (Unix
// nanoseconds). Always true when passive health is off.
func (in *Instance) Available(now int64) bool {
	return in.maxFailures <= 0 || now >= in.st.downUntil.Load()
}

// Failures returns the number of connect failures since the last success.
func (in *Instance) Failures() int64 { return in.st.fails.Load() }

// DownUntil returns the Unix nanosecond time the last cooldown ends (or
// ended); 0 if the instance has never been down.
func (in *Instance) DownUntil() int64 { return in.st.downUntil.Load() }

// candidate reports whether in may be picked outside panic mode.
func (in *Instance) candidate(now int64, skip *Instance) bool {
	return in.Available(now) && !in.same(skip)
}

// same reports whether in and o are the same upstream instance, possibly
// from different Sets. False when o is nil.
func (in *Instance) same(o *Instance) bool {
	return o != nil && in.st == o.st
}
