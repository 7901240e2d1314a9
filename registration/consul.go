package registration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/consul/api"
)

// Defaults of ConsulSettings' zero values.
const (
	DefaultCheckInterval   = 10 * time.Second
	DefaultCheckTimeout    = 5 * time.Second
	DefaultDeregisterAfter = 10 * time.Minute
	// DefaultWaitTime is Consul's own default for a blocking query.
	DefaultWaitTime = 5 * time.Minute
	// DefaultMinInterval is the least time between the starts of two
	// count queries.
	DefaultMinInterval = 250 * time.Millisecond
)

// ConsulSettings say how to reach a Consul agent and what check it runs
// on the instance. Every zero value but CheckURL's has a meaning.
type ConsulSettings struct {
	// Address is the agent's HTTP API: "host:port" or a URL. "" means the
	// Consul client's default: $CONSUL_HTTP_ADDR, else 127.0.0.1:8500.
	Address string
	// Token is the ACL token (X-Consul-Token). "" means the Consul
	// client's default: $CONSUL_HTTP_TOKEN, else none.
	Token string
	// Datacenter the count reads. "" means the agent's own.
	Datacenter string
	// CheckURL is what the agent's HTTP check requests: the instance's
	// admin /readyz, so that a draining instance leaves the passing list.
	// Required.
	CheckURL string
	// CheckInterval is how often the agent runs the check; 0 means
	// DefaultCheckInterval (10s).
	CheckInterval time.Duration
	// CheckTimeout bounds one check; 0 means DefaultCheckTimeout (5s).
	CheckTimeout time.Duration
	// DeregisterAfter is how long the check may stay critical before the
	// agent removes the instance (an instance that crashed without
	// deregistering); Consul takes at least 1m. 0 means
	// DefaultDeregisterAfter (10m).
	DeregisterAfter time.Duration
	// WaitTime is how long one blocking count query may wait for a
	// change; 0 means DefaultWaitTime (5m).
	WaitTime time.Duration
	// MinInterval is the least time between the starts of two count
	// queries; 0 means DefaultMinInterval (250ms).
	MinInterval time.Duration
	// RequestTimeout bounds a registration, and how long a count query
	// may take beyond its wait; 0 means DefaultRequestTimeout (5s).
	RequestTimeout time.Duration
}

// consulBackend registers with a Consul agent and counts the service's
// passing instances with blocking health queries.
type consulBackend struct {
	client    *api.Client
	transport *http.Transport
	reg       *api.AgentServiceRegistration
	dc        string
	service   string
	wait      time.Duration
	minInt    time.Duration
	timeout   time.Duration
}

func newConsul(in Instance, s ConsulSettings) (*consulBackend, error) {
	if s.CheckURL == "" {
		return nil, errors.New("registration: consul: no check URL")
	}
	c := &consulBackend{
		dc:      s.Datacenter,
		service: in.Service,
		wait:    positive(s.WaitTime, DefaultWaitTime),
		minInt:  positive(s.MinInterval, DefaultMinInterval),
		timeout: positive(s.RequestTimeout, DefaultRequestTimeout),
	}
	c.reg = &api.AgentServiceRegistration{
		ID:      in.ID,
		Name:    in.Service,
		Tags:    in.Tags,
		Address: in.Address,
		Port:    in.Port,
		Meta:    in.Meta,
		Check: &api.AgentServiceCheck{
			CheckID:                        in.ID + "-readyz",
			Name:                           "gateway readiness (GET " + s.CheckURL + ")",
			HTTP:                           s.CheckURL,
			Interval:                       positive(s.CheckInterval, DefaultCheckInterval).String(),
			Timeout:                        positive(s.CheckTimeout, DefaultCheckTimeout).String(),
			DeregisterCriticalServiceAfter: positive(s.DeregisterAfter, DefaultDeregisterAfter).String(),
		},
	}
	c.transport = &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	client, err := api.NewClient(&api.Config{Address: s.Address, Token: s.Token, Transport: c.transport})
	if err != nil {
		return nil, fmt.Errorf("registration: consul: %w", err)
	}
	c.client = client
	return c, nil
}

func (c *consulBackend) name() string { return "consul" }

// register is PUT /v1/agent/service/register: the service with its HTTP
// check. Registering again with the same ID replaces the entry.
func (c *consulBackend) register(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.client.Agent().ServiceRegisterOpts(c.reg, api.ServiceRegisterOpts{}.WithContext(rctx)); err != nil {
		return fmt.Errorf("consul: register %s: %w", c.reg.ID, err)
	}
	return nil
}

// hold has nothing to renew: the agent keeps the service and runs its
// check. It waits for ctx, or for the follower to say the agent is back
// from an outage (it may have restarted without the service).
func (c *consulBackend) hold(ctx context.Context, again <-chan struct{}) error {
	select {
	case <-ctx.Done():
	case <-again:
	}
	return nil
}

func (c *consulBackend) reregisterAfterOutage() bool { return true }

// deregister is PUT /v1/agent/service/deregister/:id.
func (c *consulBackend) deregister(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	q := (&api.QueryOptions{}).WithContext(rctx)
	if err := c.client.Agent().ServiceDeregisterOpts(c.reg.ID, q); err != nil {
		return fmt.Errorf("consul: deregister %s: %w", c.reg.ID, err)
	}
	return nil
}

// follow reads /v1/health/service/:name?passing, then blocks on the
// index of each answer, as discovery's Consul watcher does: an index that
// went back starts over with a plain read, an index of 0 is taken as 1,
// and queries start at least MinInterval apart.
func (c *consulBackend) follow(ctx context.Context, set func(int, bool)) error {
	var index uint64
	var next time.Time
	for {
		if d := time.Until(next); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		next = time.Now().Add(c.minInt)
		q := &api.QueryOptions{AllowStale: true, Datacenter: c.dc}
		timeout := c.timeout
		if index > 0 {
			q.WaitIndex, q.WaitTime = index, c.wait
			timeout += c.wait + c.wait/16
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		entries, meta, err := c.client.Health().Service(c.service, "", true, q.WithContext(rctx))
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("consul: count %s: %w", c.service, err)
		}
		back := false
		switch got := meta.LastIndex; {
		case got < index:
			// A restored or restarted agent: start over, and register
			// again in case it came back without this instance.
			index, back = 0, true
		case got == 0:
			index = 1
		default:
			index = got
		}
		set(passing(entries), back)
	}
}

// passing counts the distinct instances of a ?passing answer.
func passing(entries []*api.ServiceEntry) int {
	ids := make(map[string]bool, len(entries))
	for _, e := range entries {
		if e == nil || e.Service == nil {
			continue
		}
		id := e.Service.ID
		if e.Node != nil {
			id = e.Node.Node + "/" + id // service IDs are unique per agent
		}
		ids[id] = true
	}
	return len(ids)
}

func (c *consulBackend) close() error {
	c.transport.CloseIdleConnections()
	return nil
}
