package config

import (
	"strings"
	"testing"
	"time"
)

func TestWebSocketSettings(t *testing.T) {
	cfg, err := Parse([]byte(`
routes:
  - name: plain
    match: { path: /a }
    upstream: { targets: ["http://127.0.0.1:1"] }
  - name: tuned
    match: { path: /b }
    upstream: { targets: ["http://127.0.0.1:1"] }
    websocket: { allowed_origins: ["https://*.example.com"], max_tunnels: 5, drain_delay: 0s }
  - name: off
    match: { path: /c }
    upstream: { targets: ["http://127.0.0.1:1"] }
    websocket: { enabled: false }
  - name: static
    match: { path: /d }
    respond: { body: hi }
`), "ws.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plain := WebSocketOf(&cfg.Routes[0])
	if !plain.On() || plain.MaxTunnels != 10000 || plain.IdleTimeout != 5*time.Minute || plain.BufferSize != 16<<10 ||
		*plain.DrainDelay != 10*time.Second || plain.MaxLifetime != 0 {
		t.Errorf("defaults: %+v", plain)
	}
	tuned := WebSocketOf(&cfg.Routes[1])
	if !tuned.On() || tuned.MaxTunnels != 5 || *tuned.DrainDelay != 0 || tuned.IdleTimeout != 5*time.Minute {
		t.Errorf("tuned: %+v", tuned)
	}
	if off := WebSocketOf(&cfg.Routes[2]); off.On() {
		t.Error("enabled: false is on")
	}
	if static := WebSocketOf(&cfg.Routes[3]); static.On() {
		t.Error("a respond route tunnels")
	}
}

func TestWebSocketValidation(t *testing.T) {
	for _, tt := range []struct {
		desc, give, want string
	}{
		{desc: "not an upstream route", give: `respond: { body: hi }
    websocket: { max_tunnels: 3 }`, want: "routes[0].websocket: needs an upstream"},
		{desc: "origin with a path", give: `upstream: { targets: ["http://127.0.0.1:1"] }
    websocket: { allowed_origins: ["https://a.example/x"] }`, want: "routes[0].websocket.allowed_origins[0]"},
		{desc: "origin without scheme", give: `upstream: { targets: ["http://127.0.0.1:1"] }
    websocket: { allowed_origins: ["example.com"] }`, want: "want scheme://host"},
		{desc: "two wildcards", give: `upstream: { targets: ["http://127.0.0.1:1"] }
    websocket: { allowed_origins: ["https://*.*.example.com"] }`, want: "at most one wildcard"},
		{desc: "buffer too small", give: `upstream: { targets: ["http://127.0.0.1:1"] }
    websocket: { buffer_size: 16 }`, want: "routes[0].websocket.buffer_size"},
		{desc: "unknown key", give: `upstream: { targets: ["http://127.0.0.1:1"] }
    websocket: { max_tunels: 3 }`, want: "max_tunels"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := Parse([]byte("routes:\n  - name: r\n    match: { path: /a }\n    "+tt.give+"\n"), "ws.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}
