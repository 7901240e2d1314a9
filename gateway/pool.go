package gateway

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/upstream"
)

// pool is a route's upstream: the instances the balancer picks from and one
// connection pool (upstream.Client) per instance. The instances are a fixed
// list (targets) or follow a registry (service); either way the request
// path reads them with one atomic load.
type pool struct {
	clients  *clients
	balancer discovery.Balancer
	settings config.Upstream
	retries  int
	// budget limits retries in flight (retry_budget); inflight counts the
	// pool's requests being forwarded (kept only when retries > 0).
	budget   float64
	inflight atomic.Int64
	retrying atomic.Int64
	health   discovery.HealthSettings
	cur      atomicTargets
	// tls is the configuration of the pool's TLS connections (nil: plain
	// HTTP); tlsKey tells apart connection pools of different settings.
	tls    *tls.Config
	tlsKey string

	// streams counts requests with a streamed body being forwarded, up
	// to maxStreams (max_streamed_bodies).
	streams    atomic.Int64
	maxStreams int64
	// log and noInstance: the rate-limited log of the pool's failures.
	log        *slog.Logger
	noInstance errorLog

	// For a discovered service: the subscription and the goroutine that
	// follows it.
	sub  *discovery.Subscription
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex // guards the fields below and rebuilds
	closed   bool
	retiring map[*time.Timer]clientKey
	// onLeave hears of each instance that left the pool; nil for none.
	onLeave func(addr string)
}

// targetSet is one generation of a pool's instances. Immutable.
type targetSet struct {
	set     *discovery.Set
	targets []target
}

// target pairs an instance's live state with its connection pool.
type target struct {
	inst   *discovery.Instance
	client *upstream.Client
	key    clientKey
	// errs rate-limits the log lines about this target's failures.
	errs *errorLog
}

// discoveryWait bounds how long compiling a route waits for a registry's
// first answer about a service nobody followed before.
const discoveryWait = 2 * time.Second

// newPool builds the pool of u. With check set (gateway validate) a
// discovered service is not looked up.
func newPool(u *config.Upstream, cs *clients, reg *discovery.Registry, check bool) (*pool, error) {
	bal, err := discovery.NewBalancer(u.Balance)
	if err != nil {
		return nil, err
	}
	p := &pool{
		clients:  cs,
		balancer: bal,
		settings: *u,
		health:   discovery.HealthSettings{MaxFailures: u.PassiveHealth.MaxFailures, Cooldown: u.PassiveHealth.Cooldown},
	}
	p.maxStreams, p.log = int64(u.MaxStreamedBodies), cs.log
	if p.tls, p.tlsKey, err = upstreamTLS(u); err != nil {
		return nil, err
	}
	if u.Retries != nil {
		p.retries = *u.Retries
	}
	if u.RetryBudget != nil {
		p.budget = *u.RetryBudget
	}
	if u.Service == "" {
		eps := make([]discovery.Endpoint, 0, len(u.Targets))
		for _, t := range u.Targets {
			pu, err := url.Parse(t.URL)
			if err != nil {
				return nil, fmt.Errorf("target %q: %w", t.URL, err)
			}
			eps = append(eps, discovery.Endpoint{Addr: pu.Host, Weight: t.Weight})
		}
		ts, err := p.build(nil, discovery.NewSet(eps, p.health))
		if err != nil {
			p.close()
			return nil, err
		}
		p.cur.Store(ts)
		return p, nil
	}
	if reg == nil {
		if check {
			p.cur.Store(&targetSet{set: discovery.NewSet(nil, p.health)})
			return p, nil
		}
		return nil, fmt.Errorf("service %q: no %s registry was configured at start (it needs a restart)", u.Service, u.Discovery)
	}
	sub, err := reg.Subscribe(u.Discovery, u.Service, p.health)
	if err != nil {
		return nil, err
	}
	p.sub = sub
	wait := time.NewTimer(discoveryWait)
	select {
	case <-sub.Ready():
	case <-wait.C:
	}
	wait.Stop()
	ts, err := p.build(nil, sub.Set())
	if err != nil {
		p.close()
		return nil, err
	}
	p.cur.Store(ts)
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go p.follow()
	return p, nil
}

// follow swaps in the registry's new instance lists until the pool closes.
func (p *pool) follow() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			return
		case <-p.sub.Changed():
			p.mu.Lock()
			if !p.closed {
				if ts, err := p.build(p.cur.Load(), p.sub.Set()); err == nil {
					p.retire(p.cur.Load(), ts)
					p.cur.Store(ts)
				}
			}
			p.mu.Unlock()
		}
	}
}

// build pairs each instance of set with a connection pool: the one prev
// had for the same address, or a new one.
func (p *pool) build(prev *targetSet, set *discovery.Set) (*targetSet, error) {
	old := map[string]target{}
	if prev != nil {
		for _, t := range prev.targets {
			old[t.inst.Addr] = t
		}
	}
	ts := &targetSet{set: set}
	u := &p.settings
	for _, inst := range set.Instances() {
		if t, ok := old[inst.Addr]; ok {
			ts.targets = append(ts.targets, target{inst: inst, client: t.client, key: t.key, errs: t.errs})
			continue
		}
		k := clientKey{
			addr:           inst.Addr,
			maxConns:       u.MaxConns,
			connectTimeout: u.ConnectTimeout,
			readTimeout:    u.ReadTimeout,
			writeTimeout:   u.WriteTimeout,
			idleTimeout:    u.IdleTimeout,
			connWait:       *u.ConnWait,
			maxResponse:    int64(u.MaxResponseSize),
			tls:            p.tlsKey,
		}
		c, err := p.clients.acquire(k, p.tls)
		if err != nil {
			for _, t := range ts.targets {
				if _, kept := old[t.inst.Addr]; !kept {
					p.clients.release(t.key)
				}
			}
			return nil, fmt.Errorf("target %s: %w", inst.Addr, err)
		}
		errs := &errorLog{dialErr: c.LastDialError}
		if p.tls != nil {
			errs.tlsErr = c.LastTLSError
		}
		ts.targets = append(ts.targets, target{inst: inst, client: c, key: k, errs: errs})
	}
	return ts, nil
}

// retire releases the connection pools of instances that prev had and next
// has not, once requests that picked them are done. p.mu is held.
func (p *pool) retire(prev, next *targetSet) {
	kept := make(map[string]bool, len(next.targets))
	for _, t := range next.targets {
		kept[t.inst.Addr] = true
	}
	for _, t := range prev.targets {
		if kept[t.inst.Addr] {
			continue
		}
		if p.onLeave != nil {
			p.onLeave(t.inst.Addr)
		}
		k := t.key
		var timer *time.Timer
		timer = time.AfterFunc(p.settings.Timeout+time.Second, func() {
			p.mu.Lock()
			_, pending := p.retiring[timer]
			delete(p.retiring, timer)
			p.mu.Unlock()
			if pending {
				p.clients.release(k)
			}
		})
		if p.retiring == nil {
			p.retiring = make(map[*time.Timer]clientKey)
		}
		p.retiring[timer] = k
	}
}

// pick returns the target to try next, avoiding skip unless it is the only
// one; nil when there is no instance at all. Not inlined, so that its
// locals are not in the frame of proxyStep.attempts, which stays on the
// stack while the upstream answers.
//
//go:noinline
func (p *pool) pick(now time.Time, skip *discovery.Instance) *target {
	ts := p.cur.Load()
	inst := p.balancer.Pick(ts.set, now.UnixNano(), skip)
	if inst == nil {
		return nil
	}
	for i := range ts.targets {
		if ts.targets[i].inst == inst {
			return &ts.targets[i]
		}
	}
	return nil
}

// targets returns the instances serving now.
func (p *pool) targets() []target {
	if ts := p.cur.Load(); ts != nil {
		return ts.targets
	}
	return nil
}

// close stops following the registry and gives back every connection pool.
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	pending := p.retiring
	p.retiring = nil
	p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		<-p.done
	}
	if p.sub != nil {
		_ = p.sub.Close()
	}
	for timer, k := range pending {
		timer.Stop()
		p.clients.release(k)
	}
	for _, t := range p.targets() {
		p.clients.release(t.key)
	}
}

// minRetryConcurrency is how many retries a pool allows in flight
// whatever its budget, so that a quiet route still retries.
const minRetryConcurrency = 3

// takeRetry reports whether the retry budget allows one more retry in
// flight now; the caller gives it back with doneRetry.
func (p *pool) takeRetry() bool {
	allowed := max(int64(minRetryConcurrency), int64(p.budget*float64(p.inflight.Load())))
	if p.retrying.Add(1) > allowed {
		p.retrying.Add(-1)
		return false
	}
	return true
}

func (p *pool) doneRetry() { p.retrying.Add(-1) }

// takeStream reports whether one more request with a streamed body may be
// forwarded now; the caller gives it back with doneStream. A pool built
// without max_streamed_bodies (tests) has no bound.
func (p *pool) takeStream() bool {
	if p.maxStreams <= 0 {
		return true
	}
	if p.streams.Add(1) > p.maxStreams {
		p.streams.Add(-1)
		return false
	}
	return true
}

func (p *pool) doneStream() {
	if p.maxStreams > 0 {
		p.streams.Add(-1)
	}
}
