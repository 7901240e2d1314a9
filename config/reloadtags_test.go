package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fastgate/gateway/config/yamlcodec"
)

// Every top-level setting is either applied by a reload or tagged
// reload:"restart". A new setting must be put on one side here, on
// purpose: the gateway's reload must then really apply the live ones.
func TestEverySettingHasAReloadRule(t *testing.T) {
	live := []string{
		"admin_hosts", "admin_auth", "admin_endpoints.pprof", "admin_endpoints.reload",
		"trusted_proxies", "server.drain_timeout", "server.shutdown_delay",
		"server.max_uri_length", "server.max_header_count", "server.max_body_size",
		"redis", "brokers", "access_log", "tracing", "auth.jwt_providers",
		"tls.certificates", "tls.default", "tls.strict_sni", "tls.session_ticket_keys_file", "tls.redirect_http",
	}
	restart := []string{
		"listen", "admin", "server.read_timeout", "server.write_timeout",
		"server.idle_timeout", "server.max_header_bytes", "server.max_conns_per_ip",
		"server.concurrency", "discovery", "cache", "config_source", "registration",
		"tls.listen", "tls.min_version", "tls.client_auth", "tls.handshake_timeout", "tls.acme",
	}
	var gotLive, gotRestart []string
	var c Config
	v := reflect.ValueOf(&c).Elem()
	yamlcodec.WalkSettings(v, v, notSettings, func(path string, _, _ reflect.Value, restartOnly bool) {
		if restartOnly {
			gotRestart = append(gotRestart, path)
		} else {
			gotLive = append(gotLive, path)
		}
	})
	slices.Sort(live)
	slices.Sort(restart)
	slices.Sort(gotLive)
	slices.Sort(gotRestart)
	if !slices.Equal(gotLive, live) {
		t.Errorf("settings a reload applies: %q, want %q", gotLive, live)
	}
	if !slices.Equal(gotRestart, restart) {
		t.Errorf("restart-only settings: %q, want %q", gotRestart, restart)
	}
}

func TestChangesAndInEffect(t *testing.T) {
	running, err := Parse([]byte(`
listen: ":8080"
routes: [{ name: a, match: { path: /a }, respond: { body: a } }]
`), "a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GW_TEST_CONSUL", "consul.internal:8500")
	next, err := Parse([]byte(`
listen: ":8081"
trusted_proxies: [10.0.0.0/8]
discovery: { consul: { address: "${GW_TEST_CONSUL}" } }
server: { idle_timeout: 5s, max_body_size: 1MiB }
routes: [{ name: b, match: { path: /b }, respond: { body: b } }]
`), "b.yaml")
	if err != nil {
		t.Fatal(err)
	}
	live, restart := Changes(running, next)
	if want := []string{"trusted_proxies", "server.max_body_size"}; !slices.Equal(live, want) {
		t.Errorf("live %q, want %q", live, want)
	}
	wantPending := []string{"listen", "server.idle_timeout", "discovery"}
	if !slices.Equal(restart, wantPending) {
		t.Errorf("restart %q, want %q", restart, wantPending)
	}

	eff, pending := next.InEffect(running)
	if !slices.Equal(pending, wantPending) {
		t.Errorf("pending %q, want %q", pending, wantPending)
	}
	if eff.Listen != ":8080" || eff.Discovery.Consul != nil || eff.Server.IdleTimeout != running.Server.IdleTimeout {
		t.Errorf("in effect: listen %q consul %v idle %v: want the running values", eff.Listen, eff.Discovery.Consul, eff.Server.IdleTimeout)
	}
	if eff.Server.MaxBodySize != 1<<20 || len(eff.TrustedProxies) != 1 || eff.Routes[0].Name != "b" {
		t.Errorf("in effect: the live settings and routes of the new file are lost: %+v", eff.Server)
	}
	if next.Listen != ":8081" || next.Discovery.Consul == nil {
		t.Error("InEffect changed its receiver")
	}
	if _, restart := Changes(running, eff); len(restart) != 0 {
		t.Errorf("in effect still differs from running in %q", restart)
	}

	// Back the other way, the environment's value stays hidden.
	eff, _ = running.InEffect(next)
	shown, err := eff.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(shown), "consul.internal") {
		t.Errorf("a value from the environment is shown after InEffect:\n%s", shown)
	}
	if eff, pending := next.InEffect(next); eff != next || pending != nil {
		t.Errorf("nothing pending: got a copy and %q", pending)
	}
}
