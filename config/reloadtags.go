package config

import (
	"reflect"
	"slices"
	"strings"
)

// How a setting takes a new value, by its reload struct tag. A field
// without the tag takes effect at the next reload; a field tagged
// reload:"restart" keeps the value the process started with until it
// restarts (a listener's address, the parts built once at start). The tag
// is the one place that says so: the reload report, the configuration a
// reload serves and /-/config all derive from it.
const reloadRestart = "restart"

// Changes compares the top-level settings of two configurations, routes
// and include patterns left out: live lists the keys of the settings that
// differ and take effect at a reload, restart those that differ and wait
// for a restart (tagged reload:"restart"). Keys are paths as in errors
// ("listen", "server.read_timeout", "access_log").
func Changes(running, next *Config) (live, restart []string) {
	walkSettings(reflect.ValueOf(running).Elem(), reflect.ValueOf(next).Elem(), "",
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
	walkSettings(reflect.ValueOf(running).Elem(), reflect.ValueOf(c).Elem(), "",
		func(path string, a, b reflect.Value, restartOnly bool) {
			if !restartOnly && !slices.Contains(keep, path) || reflect.DeepEqual(a.Interface(), b.Interface()) {
				return
			}
			pending = append(pending, path)
			fieldAt(out, path).Set(a)
		})
	if len(pending) == 0 {
		return c, nil
	}
	eff.secrets = make(map[string]bool, len(c.secrets))
	for p := range c.secrets {
		if !under(p, pending) {
			eff.secrets[p] = true
		}
	}
	for p := range running.secrets {
		if under(p, pending) {
			eff.secrets[p] = true
		}
	}
	return &eff, pending
}

// walkSettings calls visit for each setting of the two Config values a
// and b, by path: a tagged field as a whole, an untagged struct field
// (server, admin_endpoints) field by field, any other field as a whole.
// Routes and Include are not settings: routes are compared one by one.
func walkSettings(a, b reflect.Value, path string, visit func(path string, a, b reflect.Value, restartOnly bool)) {
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		p := joinPath(path, yamlName(f))
		if p == "routes" || p == "include" {
			continue
		}
		restartOnly := f.Tag.Get("reload") == reloadRestart
		if !restartOnly && f.Type.Kind() == reflect.Struct {
			walkSettings(a.Field(i), b.Field(i), p, visit)
			continue
		}
		visit(p, a.Field(i), b.Field(i), restartOnly)
	}
}

// fieldAt returns the field of the struct v at a dotted path of YAML keys.
func fieldAt(v reflect.Value, path string) reflect.Value {
	for _, name := range strings.Split(path, ".") {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() && yamlName(t.Field(i)) == name {
				v = v.Field(i)
				break
			}
		}
	}
	return v
}

// under reports whether path is one of roots or lies inside one.
func under(path string, roots []string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, r+".") || strings.HasPrefix(path, r+"[") {
			return true
		}
	}
	return false
}
