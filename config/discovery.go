package config

import (
	"strconv"
	"strings"
	"time"
)

// Service registries: the top-level discovery section, and the routes
// whose upstream names a service in one.

// Discovery configures service registries.
type Discovery struct {
	// Consul is a Consul agent. Default: none.
	Consul *Consul `yaml:"consul"`
	// Etcd is an etcd cluster. Default: none.
	Etcd *Etcd `yaml:"etcd"`
	// StateFile keeps the last known instances of every service, so that a
	// gateway restarted while a registry is down still serves. Default "":
	// none.
	StateFile string `yaml:"state_file"`
}

// Consul is a Consul agent whose health endpoint lists instances.
type Consul struct {
	// Address is host:port or a URL. Default "127.0.0.1:8500".
	Address string `yaml:"address" redact:"url"`
	// Token is the ACL token. Default: none.
	Token string `yaml:"token" redact:"secret"`
	// Datacenter to ask. Default: the agent's.
	Datacenter string `yaml:"datacenter"`
	// Tag keeps only instances with this tag. Default: all.
	Tag string `yaml:"tag"`
	// Consistency of reads: stale (default), default or consistent.
	Consistency string `yaml:"consistency"`
	// IncludeFailing also lists instances whose checks fail. Default
	// false: passing instances only.
	IncludeFailing bool `yaml:"include_failing"`
	// WaitTime is how long a blocking query waits for a change. Default 5m.
	WaitTime time.Duration `yaml:"wait_time" range:"1s,10m"`
}

// Etcd is an etcd cluster where instances register under a prefix.
type Etcd struct {
	// Endpoints are the members' client addresses. Default
	// ["127.0.0.1:2379"].
	Endpoints []string `yaml:"endpoints" redact:"url"`
	// Prefix is where services live: <prefix><service>/<instance-id>.
	// Default "/services/".
	Prefix string `yaml:"prefix"`
	// Username and Password authenticate. Default: none.
	Username string `yaml:"username"`
	Password string `yaml:"password" redact:"secret"`
	// DialTimeout bounds connecting. Default 5s.
	DialTimeout time.Duration `yaml:"dial_timeout" range:"1ms,1m"`
}

// Defaults of the discovery sources.
const (
	DefaultConsulAddress = "127.0.0.1:8500"
	DefaultEtcdEndpoint  = "127.0.0.1:2379"
)

// Discovery sources, as Upstream.Discovery names them.
const (
	SourceConsul = "consul"
	SourceEtcd   = "etcd"
)

func discoveryDefaults(disc *Discovery, set map[string]bool) {
	if d := disc.Consul; d != nil {
		if d.Address == "" {
			d.Address = DefaultConsulAddress
		}
		if d.Consistency == "" {
			d.Consistency = "stale"
		}
		if !set["discovery.consul.wait_time"] {
			d.WaitTime = 5 * time.Minute
		}
	}
	if d := disc.Etcd; d != nil {
		if len(d.Endpoints) == 0 {
			d.Endpoints = []string{DefaultEtcdEndpoint}
		}
		if d.Prefix == "" {
			d.Prefix = "/services/"
		}
		if !set["discovery.etcd.dial_timeout"] {
			d.DialTimeout = 5 * time.Second
		}
	}
}

func (v *validator) discovery(d *Discovery) {
	if c := d.Consul; c != nil {
		switch c.Consistency {
		case "stale", "default", "consistent":
		default:
			v.invalid("discovery.consul.consistency", c.Consistency, "must be stale, default or consistent")
		}
	}
	if e := d.Etcd; e != nil {
		for i, ep := range e.Endpoints {
			if ep == "" {
				v.errorf("discovery.etcd.endpoints["+strconv.Itoa(i)+"]", "must not be empty")
			}
		}
		if !strings.HasPrefix(e.Prefix, "/") {
			v.invalid("discovery.etcd.prefix", e.Prefix, `must start with "/"`)
		}
	}
}

// discovered checks an upstream that a registry lists.
func (v *validator) discovered(u *Upstream, p string) {
	switch u.Discovery {
	case "":
		v.errorf(p+".discovery", "is required with service (consul or etcd)")
	case SourceConsul:
		if v.disc == nil || v.disc.Consul == nil {
			v.errorf(p+".discovery", "consul needs the top-level discovery.consul setting")
		}
	case SourceEtcd:
		if v.disc == nil || v.disc.Etcd == nil {
			v.errorf(p+".discovery", "etcd needs the top-level discovery.etcd setting")
		}
	default:
		v.invalid(p+".discovery", u.Discovery, "unknown discovery (want consul or etcd)")
	}
	if strings.ContainsAny(u.Service, "/ \t\r\n\x00") {
		v.invalid(p+".service", u.Service, "must not contain '/', spaces or control characters")
	}
}
