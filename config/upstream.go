package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/fastgate/gateway/config/yamlcodec"
	"go.yaml.in/yaml/v3"
)

// HTTP upstreams: a route's upstream, and a fallback's alternate one.

// Upstream is a set of HTTP servers that a route forwards to.
type Upstream struct {
	// Targets are the servers, each "http://host:port" or
	// {url: "http://host:port", weight: N}. Exactly one of Targets and
	// Service is required.
	Targets []Target `yaml:"targets"`
	// Service names a service whose instances a registry lists; they are
	// followed live. Needs Discovery.
	Service string `yaml:"service"`
	// Discovery is the registry Service is looked up in: "consul" or
	// "etcd", configured in the top-level discovery section.
	Discovery string `yaml:"discovery"`
	// Balance picks a target per request: round_robin (default), weighted,
	// least_request (power of two choices).
	Balance string `yaml:"balance"`
	// Timeout bounds the whole upstream exchange, from connect to the end
	// of the response headers; past it the client gets 504. Default 30s.
	Timeout time.Duration `yaml:"timeout" range:"1ms,1h"`
	// ConnectTimeout bounds a TCP connect to a target. Default 5s.
	ConnectTimeout time.Duration `yaml:"connect_timeout" range:"1ms,1m"`
	// ReadTimeout bounds each read from a target connection. Default 60s.
	ReadTimeout time.Duration `yaml:"read_timeout" range:"1ms,1h"`
	// WriteTimeout bounds each write to a target connection. Default 60s.
	WriteTimeout time.Duration `yaml:"write_timeout" range:"1ms,1h"`
	// IdleTimeout closes pooled keep-alive connections idle this long.
	// Default 60s.
	IdleTimeout time.Duration `yaml:"idle_timeout" range:"100ms,1h"`
	// MaxConns caps open connections per target. Default 512.
	MaxConns int `yaml:"max_conns" range:"1,100000"`
	// Retries is how many other targets are tried after a connection
	// failure. Default 1. Only idempotent methods are retried unless
	// RetryNonIdempotent is set.
	Retries *int `yaml:"retries" range:"0,10"`
	// RetryNonIdempotent allows retrying POST, PATCH and other
	// non-idempotent requests after a connection failure. Default false:
	// only idempotent methods and requests carrying an Idempotency-Key
	// header are retried.
	RetryNonIdempotent bool `yaml:"retry_non_idempotent"`
	// RetryBudget is the share (0..1) of the route's requests in flight
	// that may be retries at any moment; 3 concurrent retries are always
	// allowed. It keeps retries from multiplying the load on an upstream
	// that is failing. Default 0.2.
	RetryBudget *float64 `yaml:"retry_budget" range:"0,1"`
	// ConnWait is how long a request waits for a connection when
	// max_conns are busy before it gets 503. Default 250ms; 0: no wait.
	ConnWait *time.Duration `yaml:"conn_wait" range:"0s,1m"`
	// MaxResponseSize bounds the upstream's response body: a larger
	// declared Content-Length is a 502; a chunked body that grows past it
	// is cut off and the client connection closed. Default 0: no bound.
	MaxResponseSize ByteSize `yaml:"max_response_size" range:"1B,64GiB,zero"`
	// HostHeader replaces the Host header sent upstream. Default "": the
	// client's Host is passed on.
	HostHeader string `yaml:"host_header"`
	// BodyIdleTimeout bounds the wait for each next piece of a streamed
	// request body (chunked, or over 64 KiB) from the client; past it the
	// client gets 408 and the upstream request is cut off. Default 30s.
	BodyIdleTimeout time.Duration `yaml:"body_idle_timeout" range:"100ms,1h"`
	// MaxStreamedBodies caps the requests with a streamed body being
	// forwarded at once, so that slow uploads cannot hold every upstream
	// connection; past it such a request gets 503 at once. Default: half
	// of max_conns, at least 1.
	MaxStreamedBodies int `yaml:"max_streamed_bodies" range:"1,100000"`
	// PassiveHealth takes failing targets out of rotation.
	PassiveHealth PassiveHealth `yaml:"passive_health"`
	// TLS configures TLS to https:// targets and, when set, to
	// discovered instances. Default: absent; https:// targets are then
	// verified against the system roots.
	TLS *UpstreamTLS `yaml:"tls"`
}

// Target is one upstream server.
type Target struct {
	// URL is "http://host:port" or "https://host:port" (TLS, see
	// upstream.tls). Required.
	URL string `yaml:"url" redact:"url"`
	// Weight is the target's share under balance: weighted. Default 1.
	Weight int `yaml:"weight" range:"1,10000"`
}

// PassiveHealth takes a target out of rotation after consecutive connection
// failures.
type PassiveHealth struct {
	// MaxFailures is how many consecutive failed connects take a target out.
	// Default 3.
	MaxFailures int `yaml:"max_failures" range:"1,10000"`
	// Cooldown is how long a failed target stays out before it is tried
	// again. Default 10s.
	Cooldown time.Duration `yaml:"cooldown" range:"100ms,24h"`
}

// Balance values of Upstream.Balance.
const (
	BalanceRoundRobin   = "round_robin"
	BalanceWeighted     = "weighted"
	BalanceLeastRequest = "least_request"
)

// Defaults of an upstream, as the field comments state them.
const (
	defaultBalance        = BalanceRoundRobin
	defaultTimeout        = 30 * time.Second
	defaultConnectTimeout = 5 * time.Second
	defaultIOTimeout      = 60 * time.Second
	defaultIdleTimeout    = 60 * time.Second
	defaultMaxConns       = 512
	defaultRetries        = 1
	defaultRetryBudget    = 0.2
	defaultConnWait       = 250 * time.Millisecond
	defaultBodyIdle       = 30 * time.Second
	defaultMaxFailures    = 3
	defaultCooldown       = 10 * time.Second
	defaultWeight         = 1
)

// targetCodec reads a target written as just its URL, the short form of
// {url: URL}.
var targetCodec = yamlcodec.Type{
	Of: reflect.TypeFor[Target](),
	Decode: func(d *yamlcodec.Decoder, n *yaml.Node, v reflect.Value, path string) bool {
		if n.Kind == yaml.SequenceNode {
			d.Errorf(n, path, "want a URL or a mapping {url, weight}, got a list")
			return true
		}
		if n.Kind == yaml.ScalarNode { // the short form: just the URL
			url := path + ".url"
			d.Note(n, url)
			if s, _, ok := d.Scalar(n, url, "a URL"); ok {
				v.Set(reflect.ValueOf(Target{URL: s}))
			}
			return true
		}
		return false
	},
}

func upstreamDefaults(u *Upstream, p string, set map[string]bool) {
	absent := func(field string, dst *time.Duration, v time.Duration) {
		if !set[p+"."+field] {
			*dst = v
		}
	}
	if u.Balance == "" {
		u.Balance = defaultBalance
	}
	absent("timeout", &u.Timeout, defaultTimeout)
	absent("connect_timeout", &u.ConnectTimeout, defaultConnectTimeout)
	absent("read_timeout", &u.ReadTimeout, defaultIOTimeout)
	absent("write_timeout", &u.WriteTimeout, defaultIOTimeout)
	absent("idle_timeout", &u.IdleTimeout, defaultIdleTimeout)
	absent("passive_health.cooldown", &u.PassiveHealth.Cooldown, defaultCooldown)
	if !set[p+".max_conns"] {
		u.MaxConns = defaultMaxConns
	}
	if u.Retries == nil {
		n := defaultRetries
		u.Retries = &n
	}
	if u.RetryBudget == nil {
		b := defaultRetryBudget
		u.RetryBudget = &b
	}
	if u.ConnWait == nil {
		w := defaultConnWait
		u.ConnWait = &w
	}
	absent("body_idle_timeout", &u.BodyIdleTimeout, defaultBodyIdle)
	if !set[p+".max_streamed_bodies"] {
		// Clamped, so that an out-of-range max_conns is reported for itself only.
		u.MaxStreamedBodies = min(max(u.MaxConns/2, 1), 100000)
	}
	if !set[p+".passive_health.max_failures"] {
		u.PassiveHealth.MaxFailures = defaultMaxFailures
	}
	for j := range u.Targets {
		if !set[p+".targets["+strconv.Itoa(j)+"].weight"] {
			u.Targets[j].Weight = defaultWeight
		}
	}
}

func (v *validator) upstream(u *Upstream, p string) {
	switch {
	case len(u.Targets) > 0 && u.Service != "":
		v.errorf(p, "has both targets and service; keep one")
	case u.Service != "":
		v.discovered(u, p)
	case u.Discovery != "":
		v.errorf(p+".service", "is required with discovery")
	case len(u.Targets) == 0:
		v.errorf(p+".targets", "at least one target is required (or a service and its discovery)")
	}
	seen := make(map[string]int, len(u.Targets))
	for i, t := range u.Targets {
		tp := p + ".targets[" + strconv.Itoa(i) + "]"
		key, msg := checkTarget(t.URL)
		switch first, dup := seen[key]; {
		case t.URL == "":
			v.errorf(tp+".url", "is required (want http://host:port)")
		case msg != "":
			v.invalid(tp+".url", t.URL, msg)
		case dup:
			v.invalid(tp+".url", t.URL, fmt.Sprintf("the same target as targets[%d]", first))
		default:
			seen[key] = i
		}
	}
	switch u.Balance {
	case BalanceRoundRobin, BalanceWeighted, BalanceLeastRequest:
	default:
		v.invalid(p+".balance", u.Balance, "unknown balance (want round_robin, weighted or least_request)")
	}
	schemes := map[bool]bool{}
	for _, t := range u.Targets {
		schemes[strings.HasPrefix(t.URL, "https://")] = true
	}
	if len(schemes) > 1 {
		v.errorf(p+".targets", "mixes http:// and https:// targets; give each scheme its own route or upstream")
	}
	if u.TLS != nil {
		v.upstreamTLS(u.TLS, p+".tls")
		for i, t := range u.Targets {
			if strings.HasPrefix(t.URL, "http://") {
				v.invalid(p+".targets["+strconv.Itoa(i)+"].url", t.URL, "tls applies to https:// targets; write https:// (or drop tls)")
			}
		}
	}
	if strings.ContainsAny(u.HostHeader, " \t\r\n\x00") {
		v.errorf(p+".host_header", "must not contain spaces or control characters")
	}
}

// checkTarget checks an upstream URL, "http://host:port". key identifies
// the target for duplicate detection.
func checkTarget(raw string) (key, msg string) {
	const want = "want http://host:port or https://host:port"
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "" || u.Opaque != "":
		return "", want
	case u.Scheme != "http" && u.Scheme != "https":
		return "", "scheme must be http or https"
	case u.User != nil:
		return "", "must not contain user info (user:password@)"
	case u.Hostname() == "":
		return "", "missing host; " + want
	case u.Port() == "":
		return "", "missing port; " + want
	case u.Path != "" || u.RawPath != "":
		return "", "must not have a path; use strip_prefix to rewrite paths"
	case u.RawQuery != "" || u.ForceQuery:
		return "", "must not have a query"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", "must not have a fragment"
	}
	if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
		return "", "port must be a number 1-65535"
	}
	host := strings.ToLower(u.Hostname())
	if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
		return "", "host is not an IP address or host name"
	}
	return net.JoinHostPort(host, u.Port()), ""
}
