package discovery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors of Subscribe, wrapped with the names involved.
var (
	// ErrUnknownSource: the route names a discovery source that the
	// gateway's configuration does not define.
	ErrUnknownSource = errors.New("discovery: unknown source")
	// ErrClosed: the Registry was closed.
	ErrClosed = errors.New("discovery: registry closed")
)

// RegistrySettings configures a Registry. The zero value is a Registry
// without sources (every Subscribe fails) and without a state file.
type RegistrySettings struct {
	// Sources maps each source name that routes may use ("consul",
	// "etcd", ...) to the Watcher that follows it. Subscribe with a name
	// not in it is an error wrapping ErrUnknownSource.
	Sources map[string]Watcher
	// StateFile is the path of a JSON file that keeps the last known
	// instance lists across restarts: read by NewRegistry, rewritten
	// (atomically) after lists change. "" means no state file.
	StateFile string
	// StateWriteInterval is the least time between two writes of the
	// state file. 0 (or less) means 1s.
	StateWriteInterval time.Duration
	// Restart is the backoff before a Watch that returned while still
	// wanted is started again. The zero value waits 250ms to 30s.
	Restart Backoff
	// Logger receives state-file problems and watches that stopped on
	// their own. nil means no logging.
	Logger *slog.Logger
}

// Registry shares one watch per (source, service) among any number of
// subscribers, and keeps for each the last known instance list: a
// registry that becomes unreachable never empties a pool, while an empty
// answer from a reachable registry is honoured.
//
// Subscribe starts the watch of a service on first use and Close of its
// last Subscription stops it. Each Subscription holds its own Set (built
// with its own HealthSettings), swapped atomically when the list changes,
// with the live state of instances carried over (NewSetFrom).
//
// A Registry owns the goroutines it starts: one per watched service, and
// one that writes the state file. Close stops them all. Safe for
// concurrent use.
type Registry struct {
	sources map[string]Watcher
	restart Backoff
	log     *slog.Logger
	state   *stateFile // nil without a state file

	ctx    context.Context // parent of every watch; ended by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	watches map[key]*watch
	// known holds the last list of every service seen: synced by a
	// watch, or restored from the state file. It outlives a watch, so a
	// service unsubscribed and subscribed again (a config reload) starts
	// with the list it had.
	known map[key]*record
}

type key struct{ source, service string }

// record is the last known list of one service.
type record struct {
	eps      []Endpoint
	synced   time.Time // when the registry last answered for it
	restored bool      // read from the state file, not synced since
}

// watch is the one running Watch of a service, shared by its
// subscribers. Fields other than key, cancel and done are guarded by
// Registry.mu.
type watch struct {
	key    key
	cancel context.CancelFunc
	done   chan struct{} // closed when the watch goroutine has returned

	subs  map[*Subscription]struct{}
	eps   []Endpoint
	known bool // eps is a list (synced, restored or carried over)
	st    ServiceStatus
	// downSince is when the current outage began (the first failed
	// attempt after an answer, or since the start); zero while the
	// registry answers.
	downSince time.Time
	downFails uint64 // failed attempts in the current outage
}

// NewRegistry returns a Registry with the settings s. With a state file,
// it reads the file first; a missing file is no error, an unreadable
// one is logged and ignored, so the gateway starts either way.
func NewRegistry(s RegistrySettings) (*Registry, error) {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for name, w := range s.Sources {
		if name == "" || w == nil {
			return nil, fmt.Errorf("discovery: source %q: want a name and a watcher", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Registry{
		sources: maps.Clone(s.Sources),
		restart: s.Restart,
		log:     log,
		ctx:     ctx,
		cancel:  cancel,
		watches: make(map[key]*watch),
		known:   make(map[key]*record),
	}
	if s.StateFile != "" {
		r.state = newStateFile(s.StateFile, s.StateWriteInterval, log)
		recs, err := r.state.load()
		if err != nil {
			log.Warn("discovery: state file not used", "file", s.StateFile, "error", err)
		}
		maps.Copy(r.known, recs)
		r.wg.Go(func() { r.state.writeLoop(ctx, r.snapshot) })
	}
	return r, nil
}

// Subscribe returns a Subscription to service in the named source,
// starting its watch unless one runs already. Its Set starts with the
// last known list (from a running watch, an earlier one, or the state
// file), else empty until the registry first answers. hs is the passive
// health of this subscriber's Set. Close the Subscription when done.
//
// On a config reload, keep the Subscription of a route whose upstream
// did not change (its Set keeps the instances' live state), and
// subscribe the new routes before closing the old ones: the watch then
// carries over instead of stopping and starting again.
func (r *Registry) Subscribe(source, service string, hs HealthSettings) (*Subscription, error) {
	src, ok := r.sources[source]
	if !ok {
		return nil, fmt.Errorf("%w %q (service %q): configured sources: %v",
			ErrUnknownSource, source, service, slices.Sorted(maps.Keys(r.sources)))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	k := key{source, service}
	w := r.watches[k]
	if w == nil {
		w = r.startLocked(k, src)
	}
	s := newSubscription(r, w, hs)
	w.subs[s] = struct{}{}
	if w.known {
		s.set.Store(NewSet(w.eps, hs))
		s.markReady()
	} else {
		s.set.Store(NewSet(nil, hs))
	}
	return s, nil
}

// startLocked starts the watch of k. r.mu is held.
func (r *Registry) startLocked(k key, src Watcher) *watch {
	ctx, cancel := context.WithCancel(r.ctx)
	w := &watch{
		key:    k,
		cancel: cancel,
		done:   make(chan struct{}),
		subs:   make(map[*Subscription]struct{}),
		st:     ServiceStatus{Source: k.source, Service: k.service, Started: time.Now()},
	}
	if rec := r.known[k]; rec != nil {
		w.eps, w.known, w.st.Restored, w.st.KnownSync = rec.eps, true, rec.restored, rec.synced
	}
	r.watches[k] = w
	r.wg.Go(func() { r.run(ctx, w, src) })
	return w
}

// run is the goroutine of one watch: it runs src.Watch until ctx ends,
// starting it again (after a backoff) if it returns before.
func (r *Registry) run(ctx context.Context, w *watch, src Watcher) {
	defer close(w.done)
	send := func(u Update) { r.apply(w, u) }
	for n := 1; ; n++ {
		start := time.Now()
		err := src.Watch(ctx, w.key.service, send)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("returned before it was stopped")
		}
		err = fmt.Errorf("discovery: watch of %s/%s: %w", w.key.source, w.key.service, err)
		r.log.Warn("discovery: watch stopped; starting it again", "error", err)
		r.apply(w, Update{Err: err})
		if time.Since(start) > time.Minute {
			n = 1
		}
		if !Sleep(ctx, r.restart.Delay(n)) {
			return
		}
	}
}

// apply records one result of w's watcher and, when the list changed,
// gives every subscriber a new Set. The start and the end of an outage
// are logged once each.
func (r *Registry) apply(w *watch, u Update) {
	now := time.Now()
	r.mu.Lock()
	if r.watches[w.key] != w {
		r.mu.Unlock()
		return // stopped: a late result
	}
	if u.Err == nil && w.downSince.IsZero() {
		r.applyLocked(w, u, now)
		r.mu.Unlock()
		return
	}
	began, fails, kept := w.downSince, w.downFails, len(w.eps)
	if u.Err != nil {
		if began.IsZero() {
			w.downSince = now
		}
		w.downFails++
	} else {
		w.downSince, w.downFails = time.Time{}, 0
	}
	r.applyLocked(w, u, now)
	r.mu.Unlock()
	switch {
	case u.Err != nil && began.IsZero():
		r.log.Warn("discovery: registry unreachable; the last known instances stay in use",
			"source", w.key.source, "service", w.key.service, "instances", kept, "error", u.Err.Error())
	case u.Err == nil:
		r.log.Info("discovery: registry reachable again",
			"source", w.key.source, "service", w.key.service,
			"outage", now.Sub(began).Round(time.Millisecond).String(), "failed_attempts", fails)
	}
}

// applyLocked is apply with r.mu held, for a watch still running.
func (r *Registry) applyLocked(w *watch, u Update, now time.Time) {
	st := &w.st
	if u.Err != nil {
		st.Errors++
		st.LastError, st.LastErrorAt = u.Err.Error(), now
		return
	}
	st.LastSync = now
	st.Invalid += uint64(u.Invalid)
	st.Restored = false
	rec := r.known[w.key]
	if rec == nil {
		rec = new(record)
		r.known[w.key] = rec
	}
	rec.synced, rec.restored = now, false
	if !u.Changed || (w.known && EqualEndpoints(w.eps, u.Endpoints)) {
		return
	}
	eps := u.Endpoints
	if eps == nil {
		eps = []Endpoint{}
	}
	w.eps, w.known = eps, true
	rec.eps = eps
	st.Updates++
	st.LastChange = now
	for s := range w.subs {
		s.set.Store(NewSetFrom(s.set.Load(), eps, s.hs))
		s.markReady()
		s.notify()
	}
	if r.state != nil {
		r.state.markDirty()
	}
}

// unsubscribe removes s from its watch and stops the watch when s was
// its last subscriber.
func (r *Registry) unsubscribe(s *Subscription) {
	r.mu.Lock()
	w := s.w
	delete(w.subs, s)
	stop := len(w.subs) == 0 && r.watches[w.key] == w
	if stop {
		delete(r.watches, w.key)
	}
	r.mu.Unlock()
	if stop {
		w.cancel()
		<-w.done
		if r.state != nil {
			r.state.markDirty()
		}
	}
}

// Status returns the state of every watched service, sorted by source
// and service. For metrics and the admin listener.
func (r *Registry) Status() []ServiceStatus {
	r.mu.Lock()
	out := make([]ServiceStatus, 0, len(r.watches))
	for _, w := range r.watches {
		st := w.st
		st.Subscribers = len(w.subs)
		st.Instances = len(w.eps)
		st.Known = w.known
		out = append(out, st)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b ServiceStatus) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.Service, b.Service))
	})
	return out
}

// snapshot returns the records the state file should hold now.
func (r *Registry) snapshot() map[key]record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[key]record, len(r.known))
	for k, rec := range r.known {
		if _, watched := r.watches[k]; !watched && time.Since(rec.synced) > stateRetention {
			delete(r.known, k)
			continue
		}
		if rec.eps != nil {
			out[k] = *rec
		}
	}
	return out
}

// Close stops every watch and the state file writer, then writes the
// state file a last time if a list changed since its last write. The
// Sets of open Subscriptions stay as they are; Subscribe fails from now
// on. Close is safe to call more than once.
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	if r.state != nil {
		return r.state.flush(r.snapshot)
	}
	return nil
}
