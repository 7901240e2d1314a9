package consul

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/fastgate/gateway/discovery"
)

// Defaults of Settings' zero values.
const (
	// DefaultWaitTime is Consul's own default for a blocking query.
	DefaultWaitTime = 5 * time.Minute
	// MaxWaitTime is the longest wait Consul honours.
	MaxWaitTime        = 10 * time.Minute
	DefaultMinInterval = 250 * time.Millisecond
	DefaultTimeout     = 10 * time.Second
)

// Consistency modes of Settings.Consistency, as Consul names them.
const (
	Stale      = "stale"
	Default    = "default"
	Consistent = "consistent"
)

// Settings configures a Watcher. Every zero value has a meaning, given
// with each field.
type Settings struct {
	// Address is the Consul agent's HTTP API: "host:port", or a URL
	// "http://host:port", "https://host:port", "unix:///path". "" means
	// the Consul client's default: $CONSUL_HTTP_ADDR, else 127.0.0.1:8500.
	Address string
	// Token is the ACL token sent with every query (X-Consul-Token). ""
	// means the Consul client's default: $CONSUL_HTTP_TOKEN, else none.
	Token string
	// Datacenter to read. "" means the agent's own.
	Datacenter string
	// Tag keeps only the instances registered with this tag. "" means
	// every instance.
	Tag string
	// Consistency is the read mode: "stale" (any server answers, the
	// cheapest and the one that still answers without a leader),
	// "default" or "consistent". "" means "stale".
	Consistency string
	// IncludeFailing, when true, also lists instances with a warning or
	// critical check, leaving their health to the gateway's passive
	// checks (instances in maintenance mode stay out). false, the
	// default, lists only instances whose every check passes.
	IncludeFailing bool
	// WaitTime is how long one blocking query may wait for a change.
	// 0 (or less) means DefaultWaitTime (5m, Consul's default); above
	// MaxWaitTime (10m) is MaxWaitTime.
	WaitTime time.Duration
	// MinInterval is the least time between the starts of two queries
	// for one service: a cap on the query rate when a service changes
	// constantly, or when answers come back at once. 0 (or less) means
	// DefaultMinInterval (250ms).
	MinInterval time.Duration
	// Timeout is how long a query may take beyond its wait (WaitTime
	// plus the WaitTime/16 Consul may add) before it counts as failed:
	// it catches an agent that stopped answering. 0 (or less) means
	// DefaultTimeout (10s).
	Timeout time.Duration
	// Backoff paces the retries after failed queries. The zero value
	// waits 250ms, doubling up to 30s, with jitter.
	Backoff discovery.Backoff
}

// Watcher follows services in Consul through the health endpoint
// (/v1/health/service/:name) with blocking queries. Safe for concurrent
// use; a Registry runs one Watch per service.
type Watcher struct {
	client      *api.Client
	transport   *http.Transport
	query       api.QueryOptions // consistency and datacenter
	tag         string
	passingOnly bool
	wait        time.Duration
	minInterval time.Duration
	timeout     time.Duration
	backoff     discovery.Backoff
}

var _ discovery.Watcher = (*Watcher)(nil)

// New returns a Watcher with the settings s. It does not contact Consul:
// an agent that is down at start is retried by Watch.
func New(s Settings) (*Watcher, error) {
	w := &Watcher{
		tag:         s.Tag,
		passingOnly: !s.IncludeFailing,
		wait:        min(positive(s.WaitTime, DefaultWaitTime), MaxWaitTime),
		minInterval: positive(s.MinInterval, DefaultMinInterval),
		timeout:     positive(s.Timeout, DefaultTimeout),
		backoff:     s.Backoff,
	}
	switch s.Consistency {
	case "", Stale:
		w.query.AllowStale = true
	case Default:
	case Consistent:
		w.query.RequireConsistent = true
	default:
		return nil, fmt.Errorf("consul: consistency %q: use %s, %s or %s", s.Consistency, Stale, Default, Consistent)
	}
	w.query.Datacenter = s.Datacenter
	// A transport of our own, so Close can drop its idle connections, with
	// room for one kept-alive connection per watched service.
	w.transport = NewTransport()
	c, err := api.NewClient(&api.Config{Address: s.Address, Token: s.Token, Transport: w.transport})
	if err != nil {
		return nil, fmt.Errorf("consul: %w", err)
	}
	w.client = c
	return w, nil
}

// Close drops the idle connections to Consul. Stop every Watch (end its
// context) first.
func (w *Watcher) Close() error {
	w.transport.CloseIdleConnections()
	return nil
}

// Watch follows service until ctx ends; see discovery.Watcher. The first
// query reads the service at once; each next one blocks on the index of
// the last answer (see the package doc for the index rules).
func (w *Watcher) Watch(ctx context.Context, service string, send func(discovery.Update)) error {
	if service == "" || strings.ContainsAny(service, "/?#") || strings.TrimSpace(service) != service {
		return fmt.Errorf("consul: service name %q: want a name without '/', '?', '#' or surrounding spaces", service)
	}
	var (
		index uint64 // 0: the next query reads at once
		prev  []discovery.Endpoint
		known bool
		fails int
		next  time.Time // earliest start of the next query
	)
	for {
		if !discovery.Sleep(ctx, time.Until(next)) {
			return nil
		}
		next = time.Now().Add(w.minInterval)
		eps, invalid, got, err := w.read(ctx, service, index)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			fails++
			send(discovery.Update{Err: err})
			// Start over with a plain read once Consul answers again: it
			// may have been restored with lower indexes, and a query
			// blocking on an index Consul has not reached yet would only
			// return after the whole wait.
			index = 0
			if !discovery.Sleep(ctx, w.backoff.Delay(fails)) {
				return nil
			}
			continue
		}
		fails = 0
		index = NextIndex(index, got)
		u := discovery.Update{Invalid: invalid}
		if !known || !discovery.EqualEndpoints(prev, eps) {
			u.Changed, u.Endpoints = true, eps
			prev, known = slices.Clone(eps), true
		}
		send(u)
	}
}

// NextIndex returns the index for the query after an answer carrying
// got, when the last query used prev, following Consul's rules for
// blocking-query clients: an index that went backwards (a restored
// snapshot, another server's view) is reset to 0, so the next query
// reads at once and starts over; an index of 0 is taken as 1, since a
// query on index 0 does not block and would be repeated at once, again
// and again.
func NextIndex(prev, got uint64) uint64 {
	switch {
	case got < prev:
		return 0
	case got == 0:
		return 1
	}
	return got
}

// read runs one query: a plain read when index is 0, else a blocking
// one. It returns the instances, how many entries were left out as
// unreadable, and the answer's index.
func (w *Watcher) read(ctx context.Context, service string, index uint64) ([]discovery.Endpoint, int, uint64, error) {
	q := w.query
	timeout := w.timeout
	if index > 0 {
		q.WaitIndex, q.WaitTime = index, w.wait
		timeout += w.wait + w.wait/16
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	entries, meta, err := w.client.Health().Service(service, w.tag, w.passingOnly, q.WithContext(rctx))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("no answer within %v: %w", timeout, err)
		}
		return nil, 0, 0, fmt.Errorf("consul: service %q: %w", service, err)
	}
	eps, invalid := endpoints(entries, w.passingOnly)
	return eps, invalid, meta.LastIndex, nil
}

// NewTransport is the HTTP transport of a Consul client of the gateway's
// own, so its Close can drop the idle connections, with room for one
// kept-alive connection per blocking query (a watched service, a followed
// key).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

func positive(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
