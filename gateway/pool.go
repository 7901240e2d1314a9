package gateway

import (
	"fmt"
	"net/url"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/upstream"
)

// pool is a route's set of upstream targets: the instances the balancer
// picks from and one connection pool (upstream.Client) per instance.
type pool struct {
	clients  *clients
	set      *discovery.Set
	balancer discovery.Balancer
	targets  []target
	settings config.Upstream
	retries  int
}

// target pairs an instance's live state with its connection pool.
type target struct {
	inst   *discovery.Instance
	client *upstream.Client
	key    clientKey
}

func newPool(u *config.Upstream, cs *clients) (*pool, error) {
	bal, err := discovery.NewBalancer(u.Balance)
	if err != nil {
		return nil, err
	}
	eps := make([]discovery.Endpoint, 0, len(u.Targets))
	for _, t := range u.Targets {
		pu, err := url.Parse(t.URL)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", t.URL, err)
		}
		eps = append(eps, discovery.Endpoint{Addr: pu.Host, Weight: t.Weight})
	}
	set := discovery.NewSet(eps, discovery.HealthSettings{
		MaxFailures: u.PassiveHealth.MaxFailures,
		Cooldown:    u.PassiveHealth.Cooldown,
	})
	p := &pool{clients: cs, set: set, balancer: bal, settings: *u}
	if u.Retries != nil {
		p.retries = *u.Retries
	}
	for _, inst := range set.Instances() {
		k := clientKey{
			addr:           inst.Addr,
			maxConns:       u.MaxConns,
			connectTimeout: u.ConnectTimeout,
			readTimeout:    u.ReadTimeout,
			writeTimeout:   u.WriteTimeout,
			idleTimeout:    u.IdleTimeout,
		}
		c, err := cs.acquire(k)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("target %s: %w", inst.Addr, err)
		}
		p.targets = append(p.targets, target{inst: inst, client: c, key: k})
	}
	return p, nil
}

// pick returns the target to try next, never skip unless it is the only one.
func (p *pool) pick(now time.Time, skip *discovery.Instance) *target {
	inst := p.balancer.Pick(p.set, now.UnixNano(), skip)
	if inst == nil {
		return nil
	}
	for i := range p.targets {
		if p.targets[i].inst == inst {
			return &p.targets[i]
		}
	}
	return nil
}

// close gives back the pool's connection pools.
func (p *pool) close() {
	for _, t := range p.targets {
		p.clients.release(t.key)
	}
	p.targets = nil
}
