package config

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Self-registration: the top-level registration section, this instance
// registered in the registry discovery reaches, and the live count of
// the fleet that cluster rate limits divide their fallback by.

// Registration registers this instance in Consul or etcd while it runs
// (docs/fleet.md, "Self-registration"): removed first when it shuts
// down, before /readyz turns 503 and connections drain. The live number
// of the service's registered, passing instances then replaces
// rate_limit.instances in cluster limits' local fallback.
type Registration struct {
	// Registry is where the instance registers: "consul" or "etcd",
	// reached with the settings of discovery.consul or discovery.etcd
	// (address, token and datacenter; endpoints, prefix, credentials and
	// dial timeout), which must be set. Required.
	Registry string `yaml:"registry"`
	// Service is the name every instance of the fleet registers under;
	// the live count is the number of its passing instances. Default
	// "gateway".
	Service string `yaml:"service"`
	// ID tells this instance from the others of the service; one that
	// registers again with the same ID replaces its old entry. Default:
	// the host name and the port, "<hostname>-<port>".
	ID string `yaml:"id"`
	// Address is the host name or IP address other hosts reach this
	// instance's proxy listener at. Default: the host of listen; required
	// when listen names none or an unspecified one (":8080",
	// "0.0.0.0:8080", "[::]:8080"): which of the host's addresses others
	// reach is not the gateway's to guess.
	Address string `yaml:"address"`
	// Port is the port other hosts reach this instance at. Default: the
	// port of listen.
	Port int `yaml:"port" range:"1,65535"`
	// Tags are the Consul service's tags (etcd has none). Default: none.
	Tags []string `yaml:"tags"`
	// Meta is added to the instance's metadata (Consul's service Meta,
	// the "metadata" of the etcd value); "version" is always the
	// gateway's version. /-/config hides its values, as it does header
	// values. Default: none.
	Meta map[string]string `yaml:"meta"`
	// TTL is the etcd lease's: how long the key of an instance that
	// stopped without deregistering (crashed, cut off) stays. Default 10s.
	TTL time.Duration `yaml:"ttl" range:"1s,1h"`
	// Check is the HTTP check the Consul agent runs on the instance.
	Check RegistrationCheck `yaml:"check"`
}

// RegistrationCheck is the HTTP check a Consul agent runs on a
// registered instance: its admin /readyz, so that an instance that is not
// ready (starting, draining, a required broker down) leaves the passing
// instances.
type RegistrationCheck struct {
	// URL is what the agent requests. Default "http://<admin>/readyz",
	// with an unspecified admin host replaced by address; required when
	// admin is off. An admin listener on loopback is reached only by an
	// agent on the same host.
	URL string `yaml:"url" redact:"url"`
	// Interval is how often the agent checks. Default 10s.
	Interval time.Duration `yaml:"interval" range:"1s,10m"`
	// Timeout bounds one check. Default 5s.
	Timeout time.Duration `yaml:"timeout" range:"100ms,1m"`
	// DeregisterAfter is how long the check may stay critical before the
	// agent removes the instance (one that crashed without
	// deregistering). An instance not ready for longer is removed too,
	// and registers again only when the agent restarts or is
	// unreachable for a while, or the instance restarts. Default 10m.
	DeregisterAfter time.Duration `yaml:"deregister_after" range:"1m,168h"`
}

// Defaults of registration.
const (
	DefaultRegistrationService = "gateway"
	defaultRegistrationTTL     = 10 * time.Second
	defaultCheckInterval       = 10 * time.Second
	defaultCheckTimeout        = 5 * time.Second
	defaultDeregisterAfter     = 10 * time.Minute
)

// registrationDefaults fills in the service, the address and port from
// listen, and the check URL from admin. Run after the listeners'
// defaults.
func registrationDefaults(c *Config, set map[string]bool) {
	r := c.Registration
	if r.Service == "" {
		r.Service = DefaultRegistrationService
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err == nil && r.Address == "" && !unspecifiedHost(host) {
		r.Address = host
	}
	if p, perr := strconv.Atoi(port); err == nil && perr == nil && !set["registration.port"] {
		r.Port = p
	}
	if !set["registration.ttl"] {
		r.TTL = defaultRegistrationTTL
	}
	if !set["registration.check.interval"] {
		r.Check.Interval = defaultCheckInterval
	}
	if !set["registration.check.timeout"] {
		r.Check.Timeout = defaultCheckTimeout
	}
	if !set["registration.check.deregister_after"] {
		r.Check.DeregisterAfter = defaultDeregisterAfter
	}
	if r.Check.URL == "" && c.Admin != AdminOff {
		if h, p, err := net.SplitHostPort(c.Admin); err == nil {
			if unspecifiedHost(h) {
				h = r.Address
			}
			if h != "" {
				r.Check.URL = "http://" + net.JoinHostPort(h, p) + "/readyz"
			}
		}
	}
}

// unspecifiedHost is true for a listen host that names no one address.
func unspecifiedHost(h string) bool {
	if h == "" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsUnspecified()
}

func (v *validator) registration(c *Config) {
	r := c.Registration
	if r == nil {
		return
	}
	switch r.Registry {
	case "":
		v.errorf("registration.registry", "is required (consul or etcd)")
	case SourceConsul:
		if c.Discovery.Consul == nil {
			v.errorf("registration.registry", "consul needs the top-level discovery.consul setting (the agent to register with)")
		}
		if r.Check.URL == "" {
			v.errorf("registration.check.url", "is required: admin is off, or listens on no address Consul can reach")
		}
	case SourceEtcd:
		if c.Discovery.Etcd == nil {
			v.errorf("registration.registry", "etcd needs the top-level discovery.etcd setting (the cluster to register in)")
		}
	default:
		v.invalid("registration.registry", r.Registry, "unknown registry (want consul or etcd)")
	}
	if strings.ContainsAny(r.Service, "/?# \t\r\n\x00") {
		v.invalid("registration.service", r.Service, "must not contain '/', '?', '#', spaces or control characters")
	}
	if strings.ContainsAny(r.ID, "/?# \t\r\n\x00") {
		v.invalid("registration.id", r.ID, "must not contain '/', '?', '#', spaces or control characters")
	}
	if r.Address == "" {
		v.errorf("registration.address", "is required when listen (%q) names no address: the one other hosts reach this instance at", c.Listen)
	} else if strings.ContainsAny(r.Address, "/ \t\r\n\x00") || unspecifiedHost(r.Address) {
		v.invalid("registration.address", r.Address, "must be a host name or an IP address other hosts reach")
	}
	if r.Check.URL != "" && !strings.HasPrefix(r.Check.URL, "http://") && !strings.HasPrefix(r.Check.URL, "https://") {
		v.invalid("registration.check.url", r.Check.URL, "must be an http:// or https:// URL")
	}
	if r.Check.Timeout > r.Check.Interval {
		v.errorf("registration.check.timeout", "must not be longer than check.interval (%v)", r.Check.Interval)
	}
}
