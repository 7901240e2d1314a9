package config

import (
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Where the routes come from when they do not come from this file: the
// top-level config_source section. A file with a config_source is the
// instance's own part of the configuration (listeners, admin, discovery,
// where to follow): the routes and everything else that reloads come
// from the versions published to the source (gateway publish), and the
// last good one is kept on disk.

// ConfigSource names a registry that the routes are followed in, instead
// of this file's routes.
type ConfigSource struct {
	// Etcd follows the versions published under a prefix of an etcd
	// cluster (see docs/fleet.md for the layout). A config_source section
	// names etcd or consul, one of them.
	Etcd *EtcdSource `yaml:"etcd"`
	// Consul follows the versions published under a prefix of Consul KV,
	// with blocking queries (see docs/fleet.md).
	Consul *ConsulSource `yaml:"consul"`
}

// ConsulSource is a Consul agent whose KV store versions of the
// configuration are published to.
type ConsulSource struct {
	// Address is the agent's HTTP API, "host:port" or a URL
	// ("https://host:port", "unix:///path"). Default: $CONSUL_HTTP_ADDR,
	// else "127.0.0.1:8500".
	Address string `yaml:"address" redact:"url"`
	// Datacenter to read and publish in. Default: the agent's own.
	Datacenter string `yaml:"datacenter"`
	// Token is the ACL token, sent as X-Consul-Token. Default:
	// $CONSUL_HTTP_TOKEN, else none.
	Token string `yaml:"token" redact:"secret"`
	// TokenFile is a file that holds the ACL token, read at the start; it
	// wins over token. Default: $CONSUL_HTTP_TOKEN_FILE, else none.
	TokenFile string `yaml:"token_file"`
	// Prefix is where the fleet's versions live, a KV path without a
	// leading "/": <prefix>current names the version served,
	// <prefix>versions/<n>/ holds each version. Default "gateway/config/".
	Prefix string `yaml:"prefix"`
	// WaitTime is how long one blocking query for a new version may wait
	// for a change before it is asked again. Default 5m (Consul's own).
	WaitTime time.Duration `yaml:"wait_time" range:"1s,10m"`
	// Timeout bounds each read beyond its wait: an agent that does not
	// answer within it counts as down. Default 10s.
	Timeout time.Duration `yaml:"timeout" range:"1ms,1m"`
	// StateFile keeps the last good version on disk, so that an instance
	// restarted while Consul is down serves it. Default: "fleet-config.json"
	// beside discovery.state_file when that is set; "" otherwise, no copy.
	StateFile string `yaml:"state_file"`
	// MaxBytes caps the size of one version (all its files together); a
	// larger one is refused, and no answer is read much beyond it.
	// Default 8MiB.
	MaxBytes ByteSize `yaml:"max_bytes" range:"1KiB,1GiB"`
}

// EtcdSource is an etcd cluster that versions of the configuration are
// published to.
type EtcdSource struct {
	// Endpoints are the members' client addresses. Default
	// ["127.0.0.1:2379"].
	Endpoints []string `yaml:"endpoints" redact:"url"`
	// Prefix is where the fleet's versions live: <prefix>current names
	// the version served, <prefix>versions/<n>/ holds each version.
	// Default "/gateway/config/".
	Prefix string `yaml:"prefix"`
	// Username and Password authenticate. Default: none.
	Username string `yaml:"username"`
	Password string `yaml:"password" redact:"secret"`
	// DialTimeout bounds connecting. Default 5s.
	DialTimeout time.Duration `yaml:"dial_timeout" range:"1ms,1m"`
	// RequestTimeout bounds each read of etcd, and how long a watch may
	// go without an answer before it counts as broken. Default 5s.
	RequestTimeout time.Duration `yaml:"request_timeout" range:"1ms,1m"`
	// StateFile keeps the last good version on disk, so that an instance
	// restarted while etcd is down serves it. Default: "fleet-config.json"
	// beside discovery.state_file when that is set; "" otherwise, no copy
	// (an instance then waits for etcd before it serves).
	StateFile string `yaml:"state_file"`
	// MaxBytes caps the size of one version (all its files together); a
	// larger one is refused. Default 8MiB.
	MaxBytes ByteSize `yaml:"max_bytes" range:"1KiB,1GiB"`
}

// Defaults of the etcd config source.
const (
	DefaultSourcePrefix    = "/gateway/config/"
	DefaultSourceMaxBytes  = 8 << 20
	DefaultSourceStateName = "fleet-config.json"
	// DefaultSourceConsulPrefix is the Consul KV prefix of the versions.
	DefaultSourceConsulPrefix = "gateway/config/"
)

func configSourceDefaults(s *ConfigSource, disc *Discovery, set map[string]bool) {
	if c := s.Consul; c != nil {
		if !set["config_source.consul.wait_time"] {
			c.WaitTime = 5 * time.Minute
		}
		if !set["config_source.consul.timeout"] {
			c.Timeout = 10 * time.Second
		}
		sourceDefaults(&c.Prefix, DefaultSourceConsulPrefix, &c.MaxBytes, &c.StateFile, "consul", disc, set)
	}
	if e := s.Etcd; e != nil {
		if len(e.Endpoints) == 0 {
			e.Endpoints = []string{DefaultEtcdEndpoint}
		}
		if !set["config_source.etcd.dial_timeout"] {
			e.DialTimeout = 5 * time.Second
		}
		if !set["config_source.etcd.request_timeout"] {
			e.RequestTimeout = 5 * time.Second
		}
		sourceDefaults(&e.Prefix, DefaultSourcePrefix, &e.MaxBytes, &e.StateFile, "etcd", disc, set)
	}
}

// sourceDefaults fills what the etcd and Consul sources (config_source.NAME)
// share: the key prefix, ending in "/"; the size cap; the state file,
// beside discovery's.
func sourceDefaults(prefix *string, defPrefix string, maxBytes *ByteSize, stateFile *string, name string, disc *Discovery, set map[string]bool) {
	if *prefix == "" {
		*prefix = defPrefix
	}
	if !strings.HasSuffix(*prefix, "/") {
		*prefix += "/"
	}
	if !set["config_source."+name+".max_bytes"] {
		*maxBytes = DefaultSourceMaxBytes
	}
	if *stateFile == "" && disc.StateFile != "" {
		*stateFile = filepath.Join(filepath.Dir(disc.StateFile), DefaultSourceStateName)
	}
}

func (v *validator) configSource(c *Config) {
	s := c.ConfigSource
	if s == nil {
		return
	}
	switch {
	case s.Etcd == nil && s.Consul == nil:
		v.errorf("config_source", "names no source; want config_source.etcd or config_source.consul")
		return
	case s.Etcd != nil && s.Consul != nil:
		v.errorf("config_source", "names two sources; want config_source.etcd or config_source.consul, one of them")
		return
	}
	v.routesFromSource(c)
	if s.Consul != nil {
		if strings.HasPrefix(s.Consul.Prefix, "/") {
			v.invalid("config_source.consul.prefix", s.Consul.Prefix, `a Consul KV path has no leading "/"`)
		}
		return
	}
	for i, ep := range s.Etcd.Endpoints {
		if ep == "" {
			v.errorf("config_source.etcd.endpoints["+strconv.Itoa(i)+"]", "must not be empty")
		}
	}
	if !strings.HasPrefix(s.Etcd.Prefix, "/") {
		v.invalid("config_source.etcd.prefix", s.Etcd.Prefix, `must start with "/"`)
	}
	if (s.Etcd.Username == "") != (s.Etcd.Password == "") {
		v.errorf("config_source.etcd.password", "set both username and password, or neither")
	}
}

// routesFromSource refuses what a file with a config_source may not hold.
func (v *validator) routesFromSource(c *Config) {
	// The routes come from the source: routes here would never serve.
	if len(c.Routes) > 0 {
		v.errorf("routes", "the routes come from config_source; publish them with gateway publish (see docs/fleet.md)")
	}
	if len(c.Include) > 0 {
		v.errorf("include", "the routes come from config_source; publish the included files with gateway publish (see docs/fleet.md)")
	}
}
