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
}

func newPool(u *config.Upstream) (*pool, error) {
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
	p := &pool{set: set, balancer: bal, settings: *u}
	if u.Retries != nil {
		p.retries = *u.Retries
	}
	for _, inst := range set.Instances() {
		c, err := upstream.New(upstream.Settings{
			Addr:           inst.Addr,
			MaxConns:       u.MaxConns,
			ConnectTimeout: u.ConnectTimeout,
			ReadTimeout:    u.ReadTimeout,
			WriteTimeout:   u.WriteTimeout,
			IdleTimeout:    u.IdleTimeout,
			// Stream every body: the server writes it straight from the
			// upstream connection's buffer, and no per-request body buffer
			// comes from fasthttp's size-calibrated pool.
			MaxBufferedBody: -1,
		})
		if err != nil {
			p.close()
			return nil, fmt.Errorf("target %s: %w", inst.Addr, err)
		}
		p.targets = append(p.targets, target{inst: inst, client: c})
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

func (p *pool) close() {
	for _, t := range p.targets {
		_ = t.client.Close()
	}
}
