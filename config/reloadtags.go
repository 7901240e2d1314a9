package config

import (
	"reflect"
	"slices"

	"github.com/fastgate/gateway/config/yamlcodec"
)

// How a setting takes a new value, by its reload struct tag (see
// yamlcodec.WalkSettings). A field without the tag takes effect at the
// next reload; a field tagged reload:"restart" keeps the value the process
// started with until it restarts (a listener's address, the parts built
// once at start). The tag is the one place that says so: the reload
// report, the configuration a reload serves and /-/config all derive from
// it.

// notSettings are the top-level keys that are not settings: routes are
// compared one by one, and include only brings routes.
var notSettings = []string{"routes", "include"}

// Changes compares the top-level settings of two configurations, routes
// and include patterns left out: live lists the keys of the settings that
// differ and take effect at a reload, restart those that differ and wait
// for a restart (tagged reload:"restart"). Keys are paths as in errors
// ("listen", "server.read_timeout", "access_log").
func Changes(running, next *Config) (live, restart []string) {
	yamlcodec.WalkSettings(reflect.ValueOf(running).Elem(), reflect.ValueOf(next).Elem(), notSettings,
		func(path string, a, b reflect.Value, restartOnly bool) {
			if reflect.DeepEqual(a.Interface(), b.Interface()) {
				return
			}
			if restartOnly {
				restart = append(restart, path)
			} else {
				live = append(live, path)
			}
		})
	return live, restart
}

// InEffect returns the configuration that serves when c is applied to a
// process running: c with the values of running for every restart-only
// setting, and for the top-level keys in keep (settings the process
// cannot change just now), so that what a gateway reports serving is what
// it does. The marks of values taken from the environment go with them,
// so that Redacted hides what it hid before. pending lists the keys whose
// value in c differs and waits for a restart. Neither c nor running is
// changed; the result shares their unchanged parts.
func (c *Config) InEffect(running *Config, keep ...string) (_ *Config, pending []string) {
	eff := *c
	out := reflect.ValueOf(&eff).Elem()
	yamlcodec.WalkSettings(reflect.ValueOf(running).Elem(), reflect.ValueOf(c).Elem(), notSettings,
		func(path string, a, b reflect.Value, restartOnly bool) {
			if !restartOnly && !slices.Contains(keep, path) || reflect.DeepEqual(a.Interface(), b.Interface()) {
				return
			}
			pending = append(pending, path)
			yamlcodec.FieldAt(out, path).Set(a)
		})
	if len(pending) == 0 {
		return c, nil
	}
	eff.secrets = make(map[string]bool, len(c.secrets))
	for p := range c.secrets {
		if !yamlcodec.Under(p, pending) {
			eff.secrets[p] = true
		}
	}
	for p := range running.secrets {
		if yamlcodec.Under(p, pending) {
			eff.secrets[p] = true
		}
	}
	return &eff, pending
}
