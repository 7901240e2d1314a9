package config

import (
	"strconv"
	"strings"
	"time"
)

// WebSocket is how an upstream route passes WebSocket upgrades: a request
// with "Upgrade: websocket" that its upstream answers 101 becomes a
// tunnel, bytes piped both ways until either side closes. The section is
// optional: an upstream route passes upgrades with the defaults below
// unless it sets enabled: false.
type WebSocket struct {
	// Enabled lets upgrade requests become tunnels. Default true on an
	// upstream route (as Traefik, Caddy, Kong and HAProxy do); false: the
	// upgrade headers are dropped like any hop-by-hop header and the
	// request goes upstream as a plain one.
	Enabled *bool `yaml:"enabled"`
	// AllowedOrigins lists the Origin values a browser's upgrade may
	// carry: exact ("https://app.example.com"), one wildcard
	// ("https://*.example.com" takes any subdomain) or "*". Others get
	// 403. A request without Origin (not from a browser) is let through.
	// Default: none listed, every origin allowed.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// MaxTunnels caps the route's tunnels open at once, counted from the
	// upgrade request on; past it an upgrade gets 503. Default 10000.
	MaxTunnels int `yaml:"max_tunnels" range:"1,1000000"`
	// IdleTimeout closes a tunnel (close frame 1001) when no byte went
	// either way for this long; a blocked write counts as no byte. Ping
	// frames count as bytes. Default 5m. Zero means the default.
	IdleTimeout time.Duration `yaml:"idle_timeout" range:"100ms,24h"`
	// MaxLifetime closes a tunnel (close frame 1001) this long after it
	// opened, busy or not. Default 0: no limit.
	MaxLifetime time.Duration `yaml:"max_lifetime" range:"100ms,720h,zero"`
	// BufferSize is the size of each of a tunnel's two buffers (one per
	// direction): what the gateway holds of a message in flight at most.
	// Default 16KiB. Zero means the default.
	BufferSize ByteSize `yaml:"buffer_size" range:"1KiB,1MiB"`
	// DrainDelay bounds how long the route's tunnels stay open after the
	// route is removed or changed by a reload, or after their target
	// leaves the upstream: their closes (1001) are spread over it. A
	// route carried over unchanged keeps its tunnels. Default 10s; 0
	// closes them at once.
	DrainDelay *time.Duration `yaml:"drain_delay" range:"0s,1h"`
}

const (
	defaultMaxTunnels     = 10000
	defaultTunnelIdle     = 5 * time.Minute
	defaultTunnelBuffer   = 16 << 10
	defaultTunnelDrainFor = 10 * time.Second
)

// On reports whether the route turns upgrades into tunnels.
func (w *WebSocket) On() bool { return w.Enabled == nil || *w.Enabled }

// WebSocketOf returns the route's WebSocket settings, defaults applied; a
// route without the section gets the defaults, enabled when it has an
// upstream. Only an upstream route ever tunnels.
func WebSocketOf(r *Route) WebSocket {
	var w WebSocket
	if r.WebSocket != nil {
		w = *r.WebSocket
	}
	webSocketDefaults(&w)
	if r.Upstream == nil {
		off := false
		w.Enabled = &off
	}
	return w
}

func webSocketDefaults(w *WebSocket) {
	if w.Enabled == nil {
		on := true
		w.Enabled = &on
	}
	zeroDefault(&w.MaxTunnels, defaultMaxTunnels)
	zeroDefault(&w.IdleTimeout, defaultTunnelIdle)
	zeroDefault(&w.BufferSize, defaultTunnelBuffer)
	if w.DrainDelay == nil {
		d := defaultTunnelDrainFor
		w.DrainDelay = &d
	}
}

// webSocket checks a route's websocket section.
func (v *validator) webSocket(r *Route, p string) {
	w := r.WebSocket
	if r.Upstream == nil && w.On() {
		v.errorf(p, "needs an upstream (only an upstream route tunnels)")
	}
	for i, o := range w.AllowedOrigins {
		if msg := checkOrigin(o); msg != "" {
			v.invalid(p+".allowed_origins["+strconv.Itoa(i)+"]", o, msg)
		}
	}
}

// checkOrigin accepts "*" or scheme://host[:port] with at most one "*"
// in the host part, and no path.
func checkOrigin(o string) string {
	if o == "*" {
		return ""
	}
	scheme, rest, ok := strings.Cut(o, "://")
	switch {
	case !ok || scheme == "" || rest == "":
		return `want scheme://host[:port], "scheme://*.domain" or "*"`
	case strings.ContainsAny(rest, "/?# \t"):
		return "an origin has no path, query or spaces"
	case strings.Count(o, "*") > 1:
		return "at most one wildcard"
	case strings.Contains(scheme, "*"):
		return "the wildcard stands for host labels only"
	}
	return ""
}
