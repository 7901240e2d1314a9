package config

import (
	"reflect"
	"strconv"

	"github.com/fastgate/gateway/config/yamlcodec"
)

// The configuration as a whole: its top-level settings, and the order in
// which each feature's defaults and checks run. A feature's types, its
// defaults and its checks are in a file of its own (route.go,
// upstream.go, ratelimit.go, ...); adding one is that file, a field here
// or in Route, and a line in applyDefaults and validator.config (or in
// routeDefaults and validator.route).

// Config is one gateway configuration as the operator wrote it, after
// defaults were applied. It is plain data: the gateway compiles it into
// runtime objects.
type Config struct {
	// Listen is the address of the proxy listener. Default ":8080".
	// Changing it needs a restart.
	Listen string `yaml:"listen" reload:"restart"`
	// Admin is the address of the admin listener (/metrics, /healthz,
	// /readyz, /-/config, /-/routes). Default "127.0.0.1:9901". The value
	// "off" disables the admin listener.
	Admin string `yaml:"admin" reload:"restart"`
	// AdminHosts are more host names (without port) the admin listener
	// accepts in the Host header of its configuration, reload and debug
	// endpoints, for a listener reached by name. IP addresses and
	// "localhost" are always accepted (only loopback ones when it listens
	// on loopback): a name that is not on the list could be a DNS
	// rebinding. Default: none.
	AdminHosts []string `yaml:"admin_hosts"`
	// AdminAuth requires a bearer token for the admin listener's
	// configuration, reload and debug endpoints; /metrics, /healthz and
	// /readyz stay open. Default: absent, no token.
	AdminAuth *AdminAuth `yaml:"admin_auth"`
	// AdminEndpoints turns optional admin endpoints off. Default: all on.
	AdminEndpoints AdminEndpoints `yaml:"admin_endpoints"`
	// TrustedProxies lists the peers (IP addresses or CIDR ranges) whose
	// X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host headers are
	// kept and extended. Headers from any other peer are replaced. Default:
	// none, so every client's forwarded headers are replaced.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Server holds the limits and timeouts of the proxy listener.
	Server Server `yaml:"server"`
	// TLS is the HTTPS listener: certificates, client certificates,
	// ACME. Default: absent, no HTTPS listener.
	TLS TLS `yaml:"tls"`
	// Redis is the server that cluster-wide rate limits share. Default:
	// none; a route with rate_limit.scope: cluster needs it.
	Redis *Redis `yaml:"redis"`
	// Discovery configures the registries that upstream.service names are
	// resolved in. Changing it needs a restart.
	Discovery Discovery `yaml:"discovery" reload:"restart"`
	// ConfigSource follows the routes published to a registry instead of
	// this file's (docs/fleet.md). Default: absent, the routes are this
	// file's. Changing it needs a restart.
	ConfigSource *ConfigSource `yaml:"config_source" reload:"restart"`
	// Include names more files whose routes are appended to Routes, file
	// after file, after the routes written here. Each entry is a path or a
	// glob (filepath.Glob syntax: "routes.d/*.yaml"), relative to the
	// directory of this file unless absolute. A glob's matches are taken
	// in name order, leaving out directories and names that start with "."
	// (unless the pattern's last element does too); a glob may match
	// nothing. A path without glob characters must name an existing file.
	// A file is read once however often it is matched, and this file is
	// never included again. An included file holds a mapping with only
	// routes (and "x-" keys for anchors); it cannot include others.
	// Environment references work here too. Default: none.
	Include []string `yaml:"include"`
	// Cache sizes the store of fallback copies (routes' fallback.cache).
	// Default: absent, which stands for the defaults of its fields.
	// Changing it needs a restart.
	Cache *Cache `yaml:"cache" reload:"restart"`
	// Registration registers this instance in the registry of discovery
	// while it runs, and counts the fleet's instances (docs/fleet.md).
	// Default: absent, no registration. Changing it needs a restart.
	Registration *Registration `yaml:"registration" reload:"restart"`
	// AccessLog writes one line per request. Default: absent, no access
	// log. A reload applies a change: requests from then on log through
	// the new settings, and the old log is flushed and closed once the
	// requests that started before the reload are done.
	AccessLog *AccessLog `yaml:"access_log"`
	// Tracing exports spans over OTLP. Default: absent, no export (an
	// incoming traceparent is still passed on with the gateway's own span
	// id). A reload applies a change as for access_log; one that turns
	// the export on or off builds every route again, so their breakers
	// and local rate-limit buckets start afresh.
	Tracing *Tracing `yaml:"tracing"`
	// Brokers are the message brokers that publish routes send to, by
	// name. Default: none.
	Brokers map[string]*Broker `yaml:"brokers"`
	// Auth declares what routes' access control shares: JWT providers.
	// Default: none.
	Auth Auth `yaml:"auth"`
	// Routes are matched by the router; see docs/routing.md for precedence.
	Routes []Route `yaml:"routes"`

	file     string               // the name given to Load or Parse
	pos      *yamlcodec.Positions // field path -> where a file wrote it
	secrets  map[string]bool      // field paths whose value came from the environment
	files    []string             // every file read, main first, absolute
	includes []string             // Include resolved, absolute
	starts   map[string]int       // each included file's first route in Routes
	// parts are the included files' routes in Routes, in order, with
	// their own records (pos and secrets hold the main file's).
	parts []part
}

// applyDefaults fills in what the file left out. set holds the paths the
// file gave a value: fields whose comment says "zero means the default"
// take the default when zero; the others only when absent, so that an
// explicit zero is reported by validation instead of silently replaced.
func applyDefaults(c *Config, set map[string]bool) {
	listenerDefaults(c)
	adminDefaults(c, set)
	serverDefaults(&c.Server)
	tlsDefaults(&c.TLS)
	authDefaults(&c.Auth)
	inParts(len(c.Routes), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			routeDefaults(&c.Routes[i], "routes["+strconv.Itoa(i)+"]", set, c.Server.MaxBodySize)
		}
	})
	for _, b := range c.Brokers {
		if b != nil {
			brokerDefaults(b)
		}
	}
	if c.AccessLog != nil {
		accessLogDefaults(c.AccessLog)
	}
	if c.Tracing != nil {
		tracingDefaults(c.Tracing)
	}
	if c.Cache != nil {
		cacheDefaults(c.Cache)
	}
	discoveryDefaults(&c.Discovery, set)
	if c.ConfigSource != nil {
		configSourceDefaults(c.ConfigSource, &c.Discovery, set)
	}
	if c.Redis != nil {
		redisDefaults(c.Redis, set)
	}
	if c.Registration != nil {
		registrationDefaults(c, set)
	}
}

// A configuration is checked in three parts: settings checks the
// top-level settings (and keeps what the checks of a route need of
// them), route each route on its own (routeOwn), and across the rules
// that relate routes to each other and to the whole. The routes of an
// included file are checked apart from the rest (see readIncluded), so
// that a reload can keep the result of a file that did not change.

// settings checks the top-level settings: their own rules, the ranges of
// their range tags, and the rules that relate them.
func (v *validator) settings(c *Config) {
	v.listeners(c)
	v.admin(c)
	v.tls(c)
	top := *c
	top.Routes = nil // checked route by route
	codec.CheckRanges(&v.rep, reflect.ValueOf(&top).Elem(), "")
	if c.Redis != nil {
		v.redis(c.Redis)
	}
	v.disc = &c.Discovery
	v.haveRedis = c.Redis != nil
	v.discovery(&c.Discovery)
	v.brokerSet = c.Brokers
	v.brokers(c.Brokers)
	if c.AccessLog != nil {
		v.accessLog(c.AccessLog)
	}
	if c.Tracing != nil {
		v.tracing(c.Tracing)
	}
	v.providers = c.Auth.JWTProviders
	v.auth(&c.Auth)
}

// routeOwn checks the route r at p by itself: its rules, and the ranges
// of its range tags.
func (v *validator) routeOwn(r *Route, p string) {
	v.route(r, p)
	if r.RateLimit != nil {
		v.rateLimit(r.RateLimit, p+".rate_limit", v.haveRedis)
	}
	codec.CheckRanges(&v.rep, reflect.ValueOf(r).Elem(), p)
}

// across checks what relates the routes of every file to each other and
// to the top-level settings.
func (v *validator) across(c *Config) {
	v.configSource(c)
	v.routes(c)
	v.rateLimits(c)
	v.cacheSizes(c)
	v.registration(c)
}

func zeroDefault[T comparable](dst *T, v T) {
	var zero T
	if *dst == zero {
		*dst = v
	}
}
