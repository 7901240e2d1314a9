package config

import (
	"strings"
	"testing"
	"time"
)

func TestConfigSource(t *testing.T) {
	tests := []struct {
		desc    string
		give    string
		want    EtcdSource // checked when wantErr is empty
		wantErr []string
	}{
		{
			desc: "defaults",
			give: "config_source: { etcd: {} }\n",
			want: EtcdSource{Endpoints: []string{"127.0.0.1:2379"}, Prefix: "/gateway/config/",
				DialTimeout: 5 * time.Second, RequestTimeout: 5 * time.Second, MaxBytes: 8 << 20},
		},
		{
			desc: "the copy on disk beside the discovery state file, a prefix ended",
			give: "discovery: { state_file: /var/lib/gateway/instances.json }\nconfig_source: { etcd: { prefix: /fleet, max_bytes: 1MiB } }\n",
			want: EtcdSource{Endpoints: []string{"127.0.0.1:2379"}, Prefix: "/fleet/", StateFile: "/var/lib/gateway/fleet-config.json",
				DialTimeout: 5 * time.Second, RequestTimeout: 5 * time.Second, MaxBytes: 1 << 20},
		},
		{
			desc:    "routes beside a config source",
			give:    "config_source: { etcd: {} }\nroutes:\n  - { name: a, match: { path: /a }, respond: { body: a } }\n",
			wantErr: []string{"x.yaml:3:3: routes: the routes come from config_source"},
		},
		{
			desc:    "no source named",
			give:    "config_source: {}\n",
			wantErr: []string{"config_source: names no source"},
		},
		{
			desc:    "bad prefix, half a login, an unknown key",
			give:    "config_source: { etcd: { prefix: fleet/, username: u, endpoint: x } }\n",
			wantErr: []string{`unknown field "endpoint"`},
		},
		{
			desc:    "bad prefix and half a login",
			give:    "config_source: { etcd: { prefix: fleet/, username: u } }\n",
			wantErr: []string{`config_source.etcd.prefix: "fleet/": must start with "/"`, "config_source.etcd.password: set both username and password"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.give), "x.yaml")
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.ConfigSource.Etcd
			if strings.Join(got.Endpoints, ",") != strings.Join(tt.want.Endpoints, ",") || got.Prefix != tt.want.Prefix ||
				got.StateFile != tt.want.StateFile || got.DialTimeout != tt.want.DialTimeout ||
				got.RequestTimeout != tt.want.RequestTimeout || got.MaxBytes != tt.want.MaxBytes {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestConfigSourcePasswordRedacted(t *testing.T) {
	cfg, err := Parse([]byte("config_source: { etcd: { username: u, password: hunter2hunter2, endpoints: [\"http://u:p@127.0.0.1:2379\"] } }\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "hunter2") || strings.Contains(string(out), "u:p@") {
		t.Errorf("/-/config shows a secret:\n%s", out)
	}
}

func TestConsulConfigSource(t *testing.T) {
	cfg, err := Parse([]byte("discovery: { state_file: /var/lib/gateway/instances.json }\nconfig_source: { consul: { prefix: fleet, token: hunter2hunter2 } }\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.ConfigSource.Consul
	if c.Prefix != "fleet/" || c.WaitTime != 5*time.Minute || c.Timeout != 10*time.Second || c.MaxBytes != 8<<20 ||
		c.StateFile != "/var/lib/gateway/fleet-config.json" {
		t.Errorf("defaults: %+v", *c)
	}
	out, err := cfg.Redacted()
	if err != nil || strings.Contains(string(out), "hunter2") {
		t.Errorf("/-/config shows the token (%v):\n%s", err, out)
	}
	for _, tt := range []struct{ give, want string }{
		{"config_source: { consul: { prefix: /fleet/ } }\n", `config_source.consul.prefix: "/fleet/": a Consul KV path has no leading "/"`},
		{"config_source: { consul: {}, etcd: {} }\n", "config_source: names two sources"},
		{"config_source: { consul: { wait_time: 1h } }\n", "config_source.consul.wait_time"},
	} {
		if _, err := Parse([]byte(tt.give), "x.yaml"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v; want %q", tt.give, err, tt.want)
		}
	}
}
