package registration

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastgate/gateway/discovery"
)

// Defaults of the settings' zero values.
const (
	DefaultRequestTimeout = 5 * time.Second
)

// Instance is what an instance registers: the name of the service it is
// one instance of, its own id, and where it is reached.
type Instance struct {
	// Service is the name every instance of the fleet registers under;
	// the count is the number of its instances. Required.
	Service string
	// ID tells this instance from the others of the service; an instance
	// that registers again with the same ID replaces its old entry.
	// Required.
	ID string
	// Address and Port are where other hosts reach this instance's
	// proxy listener. Both required.
	Address string
	Port    int
	// Tags are Consul's service tags; etcd has none. Default: none.
	Tags []string
	// Meta is the instance's metadata: Consul's service Meta, the
	// "metadata" object of the etcd value. Default: none.
	Meta map[string]string
}

// Settings configure a Registration. Exactly one of Consul and Etcd is
// set. Every other zero value has a meaning, given with each field.
type Settings struct {
	// Instance is what is registered.
	Instance Instance
	// Consul registers the instance with a Consul agent.
	Consul *ConsulSettings
	// Etcd registers the instance in an etcd cluster.
	Etcd *EtcdSettings
	// Backoff paces the retries after failures. The zero value waits
	// 250ms, doubling up to 30s, with jitter.
	Backoff discovery.Backoff
	// Logger receives the outage lines (one when the registry stops
	// answering, one when it answers again) and the registration's
	// milestones. Nil means slog.Default().
	Logger *slog.Logger
}

// Status is what the metrics export of a Registration.
type Status struct {
	// Registry is "consul" or "etcd".
	Registry string
	// Instances is Count: the live number of passing instances of the
	// service, 0 while it is unknown.
	Instances int
	// Registered is true while this instance is registered (the last
	// attempt succeeded and, in etcd, its lease is kept alive).
	Registered bool
	// Reachable is true while the registry answers.
	Reachable bool
}

// backend is one registry's side of a Registration.
type backend interface {
	// name is "consul" or "etcd".
	name() string
	// register writes the instance to the registry.
	register(ctx context.Context) error
	// hold keeps the registration until ctx ends (nil) or it is lost
	// (the error says how), or again is signalled (nil: register again).
	hold(ctx context.Context, again <-chan struct{}) error
	// follow calls set with the number of passing instances of the
	// service on each answer of the registry, until ctx ends or a
	// failure, which it returns. gone, when true, says the registry may
	// have lost this instance's registration (its key was deleted, the
	// agent's index went back).
	follow(ctx context.Context, set func(n int, gone bool)) error
	// deregister removes the instance now.
	deregister(ctx context.Context) error
	// reregisterAfterOutage is true when an outage of the registry may
	// have lost the registration without a word (a Consul agent that
	// restarted with no state).
	reregisterAfterOutage() bool
	// close releases the connection.
	close() error
}

// Registration keeps one instance registered in Consul or etcd and
// follows the number of instances of its service. Start runs it in the
// background; a registry that is down at start or later never blocks
// the caller: it is retried with a jittered backoff, and the outage is
// logged once when it begins and once when it ends. Safe for concurrent
// use.
type Registration struct {
	b       backend
	inst    Instance
	backoff discovery.Backoff
	log     *slog.Logger

	count      atomic.Int64 // passing instances; -1 while unknown
	registered atomic.Bool
	again      chan struct{} // register again (buffered 1)

	mu       sync.Mutex
	up       bool // the registry answered last time (true before the first failure)
	started  bool
	closed   bool
	cancel   context.CancelFunc // ends both loops
	stopKeep context.CancelFunc // ends the keeper only
	keepDone chan struct{}
	loopDone chan struct{}
}

// New returns a Registration for s. It does no I/O.
func New(s Settings) (*Registration, error) {
	in := s.Instance
	switch {
	case in.Service == "" || strings.ContainsAny(in.Service, "/?# \t\r\n"):
		return nil, errors.New("registration: service name: want a name without '/', '?', '#' or spaces")
	case in.ID == "" || strings.ContainsAny(in.ID, "/?# \t\r\n"):
		return nil, errors.New("registration: instance id: want an id without '/', '?', '#' or spaces")
	case in.Address == "":
		return nil, errors.New("registration: no address to register")
	case in.Port <= 0 || in.Port > 65535:
		return nil, errors.New("registration: port out of range")
	case (s.Consul == nil) == (s.Etcd == nil):
		return nil, errors.New("registration: want one registry, consul or etcd")
	}
	r := &Registration{
		inst:    in,
		backoff: s.Backoff,
		log:     s.Logger,
		up:      true,
		again:   make(chan struct{}, 1),
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.count.Store(-1)
	var err error
	if s.Consul != nil {
		r.b, err = newConsul(in, *s.Consul)
	} else {
		r.b, err = newEtcd(in, *s.Etcd)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Start registers the instance and follows the count in the background,
// until Deregister (the registration) and Close (the count). It returns
// at once. A second call does nothing.
func (r *Registration) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return
	}
	r.started = true
	ctx, cancel := context.WithCancel(context.Background())
	kctx, stopKeep := context.WithCancel(ctx)
	r.cancel, r.stopKeep = cancel, stopKeep
	r.keepDone, r.loopDone = make(chan struct{}), make(chan struct{})
	go func() { defer close(r.keepDone); r.keep(kctx) }()
	go func() { defer close(r.loopDone); r.follow(ctx) }()
}

// Count returns the live number of registered, passing instances of the
// service, at least 1 (this one) once the registry has answered, and 0
// while it is unknown (before the first answer). While the registry is
// unreachable the last count stays. It is an atomic load.
func (r *Registration) Count() int {
	n := r.count.Load()
	if n < 0 {
		return 0
	}
	return max(1, int(n))
}

// Status returns the registration's state, for metrics.
func (r *Registration) Status() Status {
	r.mu.Lock()
	up := r.up
	r.mu.Unlock()
	return Status{Registry: r.b.name(), Instances: r.Count(), Registered: r.registered.Load(), Reachable: up}
}

// Deregister stops keeping the registration and removes it from the
// registry, in one attempt bounded by ctx: the first step of a shutdown,
// so that load balancers and the other instances' counts move before
// connections close. The count is still followed until Close. Without a
// Start it removes nothing.
func (r *Registration) Deregister(ctx context.Context) error {
	r.mu.Lock()
	started, stop, done := r.started, r.stopKeep, r.keepDone
	r.mu.Unlock()
	if !started {
		return nil
	}
	stop()
	<-done
	r.registered.Store(false)
	if err := r.b.deregister(ctx); err != nil {
		return err
	}
	r.log.Info("registration: deregistered", "registry", r.b.name(), "service", r.inst.Service, "id", r.inst.ID)
	return nil
}

// Close stops the background work and closes the connection to the
// registry. Without Deregister before it, the registration is left to
// expire as a crashed instance's would (etcd: when its lease runs out;
// Consul: when its check has been critical for the deregister delay).
// Safe after a partial start and more than once.
func (r *Registration) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	cancel, keepDone, loopDone := r.cancel, r.keepDone, r.loopDone
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		<-keepDone
		<-loopDone
	}
	return r.b.close()
}

// keep registers the instance and keeps it registered until ctx ends.
// A registration lost while the registry answers (an etcd lease revoked,
// the key deleted, a Consul agent back from an outage) is made again at
// once; failures to register are retried with backoff.
func (r *Registration) keep(ctx context.Context) {
	fails := 0
	for ctx.Err() == nil {
		if err := r.b.register(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			fails++
			r.reached(err)
			if !discovery.Sleep(ctx, r.backoff.Delay(fails)) {
				return
			}
			continue
		}
		fails = 0
		r.registered.Store(true)
		r.reached(nil)
		r.log.Info("registration: registered", "registry", r.b.name(), "service", r.inst.Service, "id", r.inst.ID,
			"address", r.inst.Address, "port", r.inst.Port)
		err := r.b.hold(ctx, r.again)
		r.registered.Store(false)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.log.Warn("registration: registration lost; registering again", "registry", r.b.name(), "error", err.Error())
			// The first backoff step: a registration lost at once
			// again and again does not spin.
			if !discovery.Sleep(ctx, r.backoff.Delay(1)) {
				return
			}
		}
	}
}

// follow follows the count until ctx ends.
func (r *Registration) follow(ctx context.Context) {
	fails := 0
	for ctx.Err() == nil {
		err := r.b.follow(ctx, func(n int, gone bool) {
			r.count.Store(int64(n))
			r.reached(nil)
			if (fails > 0 && r.b.reregisterAfterOutage()) || (gone && r.registered.Load()) {
				r.registerAgain()
			}
			fails = 0
		})
		if ctx.Err() != nil {
			return
		}
		fails++
		r.reached(err)
		if !discovery.Sleep(ctx, r.backoff.Delay(fails)) {
			return
		}
	}
}

// registerAgain asks the keeper to register the instance again.
func (r *Registration) registerAgain() {
	select {
	case r.again <- struct{}{}:
	default:
	}
}

// reached records whether the registry answered (err nil) and logs the
// start and the end of an outage, once each.
func (r *Registration) reached(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil && !r.up:
		r.up = true
		r.log.Info("registration: registry reachable again", "registry", r.b.name(), "service", r.inst.Service)
	case err != nil && r.up:
		r.up = false
		r.log.Warn("registration: registry unreachable; serving on, retrying with backoff", "registry", r.b.name(),
			"service", r.inst.Service, "error", err.Error())
	}
}

func positive(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
