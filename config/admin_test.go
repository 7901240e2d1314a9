package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminSettings: the admin access keys' defaults, the token read from
// its file, and the errors of each.
func TestAdminSettings(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"good.token":  "  0123456789abcdef-token\n",
		"short.token": "short\n",
		"two.token":   "0123456789abcdef 0123456789abcdef\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const routes = "\nroutes:\n  - { name: a, match: { path: /a }, respond: {} }\n"
	for _, tt := range []struct {
		desc, give, wantErr string
	}{
		{desc: "defaults", give: ""},
		{desc: "all set", give: "admin_hosts: [Gateway.Internal]\nadmin_auth: { token_file: good.token }\nadmin_endpoints: { pprof: false, reload: false }"},
		{desc: "missing token file", give: "admin_auth: { token_file: nope.token }", wantErr: "admin_auth.token_file: \"nope.token\": cannot be read"},
		{desc: "empty token file", give: "admin_auth: {}", wantErr: "admin_auth.token_file: is required"},
		{desc: "short token", give: "admin_auth: { token_file: short.token }", wantErr: "at least 16 bytes"},
		{desc: "two tokens", give: "admin_auth: { token_file: two.token }", wantErr: "one token on one line"},
		{desc: "host with port", give: "admin_hosts: [\"gw.internal:9901\"]", wantErr: "admin_hosts[0]: \"gw.internal:9901\": want a host name without port"},
		{desc: "unknown key", give: "admin_endpoints: { config: false }", wantErr: "config"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.desc, " ", "_")+".yaml")
			if err := os.WriteFile(path, []byte(tt.give+routes), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch tt.desc {
			case "defaults":
				if !cfg.AdminEndpoints.Pprof || !cfg.AdminEndpoints.Reload || cfg.AdminAuth != nil {
					t.Errorf("defaults: %+v %+v", cfg.AdminEndpoints, cfg.AdminAuth)
				}
			case "all set":
				if cfg.AdminEndpoints.Pprof || cfg.AdminEndpoints.Reload {
					t.Errorf("endpoints: %+v, want both off", cfg.AdminEndpoints)
				}
				if got := string(cfg.AdminAuth.Token()); got != "0123456789abcdef-token" {
					t.Errorf("token %q", got)
				}
				if cfg.AdminHosts[0] != "gateway.internal" {
					t.Errorf("admin_hosts %q, want lower case", cfg.AdminHosts)
				}
				red, err := cfg.Redacted()
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(red), "0123456789abcdef") {
					t.Errorf("Redacted shows the token:\n%s", red)
				}
			}
		})
	}
}
