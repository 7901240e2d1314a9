package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/auth/jwt/jwttest"
)

// IP lists apply to the client address that trusted_proxies yields: a
// trusted proxy's X-Forwarded-For is believed, anyone else's is not.
func TestIPAllowDeny(t *testing.T) {
	up := echoUpstream(t)
	gw := startGateway(t, `
trusted_proxies: [127.0.0.1/32]
routes:
  - name: ips
    match: { path: /ips }
    access: { ip_allow: [203.0.113.0/24, "2001:db8::/32"], ip_deny: [203.0.113.66] }
    upstream: { targets: ["{UP1}"] }
  - name: direct
    match: { path: /direct }
    access: { ip_deny: [127.0.0.1] }
    respond: {}
`, up)
	tests := []struct {
		desc, path, xff string
		want            int
	}{
		{desc: "allowed, behind the trusted proxy", path: "/ips", xff: "203.0.113.7", want: 200},
		{desc: "allowed IPv6", path: "/ips", xff: "2001:db8::1", want: 200},
		{desc: "denied within the allowed range", path: "/ips", xff: "203.0.113.66", want: 403},
		{desc: "not on the allow list", path: "/ips", xff: "198.51.100.1", want: 403},
		{desc: "the proxy itself is not on the list", path: "/ips", want: 403},
		{desc: "a spoofed hop before the client", path: "/ips", xff: "203.0.113.7, 198.51.100.1", want: 403},
		{desc: "deny list alone", path: "/direct", want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.xff != "" {
				hdr["X-Forwarded-For"] = tt.xff
			}
			resp := gw.do(t, "GET", tt.path, hdr, "")
			if resp.StatusCode() != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode(), tt.want, resp.Body())
			}
			if tt.want == 403 && string(resp.Body()) != `{"error":"forbidden","route":"`+strings.TrimPrefix(tt.path, "/")+`"}`+"\n" {
				t.Errorf("body %q", resp.Body())
			}
		})
	}
}

const corsRoutes = `
auth:
  jwt_providers:
    idp: { issuer: https://idp.test, audiences: [api], public_keys: [{ kid: k1, pem: "{PEM}" }] }
routes:
  - name: app
    match: { path_prefix: /app }
    access:
      cors:
        allowed_origins: ["https://app.example.com", "https://*.example.org"]
        allowed_methods: [GET, POST, DELETE]
        allowed_headers: [Authorization, Content-Type]
        expose_headers: [X-Request-Id]
        allow_credentials: true
        max_age: 10m
      jwt: { provider: idp }
    upstream: { targets: ["{UP1}"] }
`

// A preflight as a browser sends it is answered by the gateway before any
// authentication; answers say Vary: Origin; an allowed origin's 401 can be
// read by its script; a disallowed origin gets no CORS header.
func TestCORS(t *testing.T) {
	key := jwttest.RSA(0, "k1")
	pemText := strings.ReplaceAll(strings.TrimSpace(key.PublicPEM(t)), "\n", `\n`)
	gw := startGateway(t, strings.ReplaceAll(corsRoutes, "{PEM}", pemText), echoUpstream(t))
	preflight := map[string]string{
		"Origin":                         "https://app.example.com",
		"Access-Control-Request-Method":  "DELETE",
		"Access-Control-Request-Headers": "authorization",
	}
	resp := gw.do(t, "OPTIONS", "/app/items/1", preflight, "")
	if resp.StatusCode() != 204 {
		t.Fatalf("preflight: status %d, want 204 (answered before auth): %s", resp.StatusCode(), resp.Body())
	}
	for name, want := range map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example.com",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Max-Age":           "600",
	} {
		if got := string(resp.Header.Peek(name)); got != want {
			t.Errorf("preflight %s = %q, want %q", name, got, want)
		}
	}
	if m := string(resp.Header.Peek("Access-Control-Allow-Methods")); !strings.Contains(m, "DELETE") {
		t.Errorf("Access-Control-Allow-Methods %q", m)
	}
	if v := string(resp.Header.Peek("Vary")); !strings.Contains(v, "Origin") {
		t.Errorf("preflight Vary %q", v)
	}
	// A subdomain wildcard, and a disallowed origin: 204, no CORS headers.
	preflight["Origin"] = "https://x.example.org"
	if got := string(gw.do(t, "OPTIONS", "/app/x", preflight, "").Header.Peek("Access-Control-Allow-Origin")); got != "https://x.example.org" {
		t.Errorf("wildcard subdomain: Access-Control-Allow-Origin %q", got)
	}
	preflight["Origin"] = "https://evil.test"
	resp = gw.do(t, "OPTIONS", "/app/x", preflight, "")
	if resp.StatusCode() != 204 || len(resp.Header.Peek("Access-Control-Allow-Origin")) != 0 {
		t.Errorf("disallowed origin: status %d, Access-Control-Allow-Origin %q", resp.StatusCode(), resp.Header.Peek("Access-Control-Allow-Origin"))
	}
	// A bare OPTIONS is no preflight: authentication applies.
	if s := gw.do(t, "OPTIONS", "/app/x", map[string]string{"Origin": "https://app.example.com"}, "").StatusCode(); s != 401 {
		t.Errorf("OPTIONS without Access-Control-Request-Method: status %d, want 401", s)
	}
	// The 401 of an allowed origin carries the CORS headers and Vary.
	resp = gw.do(t, "GET", "/app/x", map[string]string{"Origin": "https://app.example.com"}, "")
	if resp.StatusCode() != 401 || string(resp.Header.Peek("Access-Control-Allow-Origin")) != "https://app.example.com" {
		t.Errorf("401: status %d, Access-Control-Allow-Origin %q", resp.StatusCode(), resp.Header.Peek("Access-Control-Allow-Origin"))
	}
	// An admitted request: the upstream's answer with CORS headers.
	resp = gw.do(t, "GET", "/app/x", map[string]string{"Origin": "https://app.example.com", "Authorization": "Bearer " + key.Sign(t, tokenClaims("alice"))}, "")
	if resp.StatusCode() != 200 || string(resp.Header.Peek("Access-Control-Allow-Origin")) != "https://app.example.com" {
		t.Errorf("200: status %d, Access-Control-Allow-Origin %q", resp.StatusCode(), resp.Header.Peek("Access-Control-Allow-Origin"))
	}
	if v := string(resp.Header.Peek("Vary")); !strings.Contains(v, "Origin") {
		t.Errorf("admitted answer: Vary %q", v)
	}
	if got := string(resp.Header.Peek("Access-Control-Expose-Headers")); got != "X-Request-Id" {
		t.Errorf("Access-Control-Expose-Headers %q", got)
	}
}

// Forward auth against a real server: it admits with headers for the
// upstream, refuses with its own status, headers and body, and when it
// hangs or answers too much the gateway answers 503 promptly.
func TestForwardAuth(t *testing.T) {
	release := make(chan struct{})
	authz := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Request.Header.Peek("Authorization")) {
		case "Bearer good":
			if string(ctx.Request.Header.Peek("X-Forwarded-Uri")) != "/fa/items?x=1" || string(ctx.Request.Header.Peek("X-Forwarded-Method")) != "POST" {
				ctx.SetStatusCode(500)
				return
			}
			ctx.Response.Header.Set("X-Auth-User", "alice")
			ctx.Response.Header.Set("X-Not-Listed", "leak")
		case "Bearer hang":
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
		case "Bearer huge":
			ctx.SetBody(make([]byte, 1<<20))
		default:
			ctx.SetStatusCode(401)
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="sso"`)
			ctx.Response.Header.Set("X-Internal", "secret")
			ctx.SetBodyString("login first")
		}
	})
	gw := startGateway(t, `
routes:
  - name: fa
    match: { path_prefix: /fa }
    access:
      forward_auth:
        url: "{UP2}/check"
        timeout: 300ms
        request_headers: [Authorization]
        upstream_headers: [X-Auth-User]
        client_headers: [WWW-Authenticate]
        max_answer_size: 4KiB
    upstream: { targets: ["{UP1}"] }
`, echoUpstream(t), authz)
	// Runs before the servers' own cleanups, which wait for the handler.
	t.Cleanup(func() { close(release) })
	resp := gw.do(t, "POST", "/fa/items?x=1", map[string]string{"Authorization": "Bearer good", "X-Auth-User": "forged"}, "body")
	if resp.StatusCode() != 200 || string(resp.Header.Peek("X-Got-X-Auth-User")) != "alice" {
		t.Fatalf("admitted: status %d, upstream X-Auth-User %q", resp.StatusCode(), resp.Header.Peek("X-Got-X-Auth-User"))
	}
	resp = gw.do(t, "GET", "/fa/items", map[string]string{"Authorization": "Bearer bad"}, "")
	if resp.StatusCode() != 401 || string(resp.Body()) != "login first" || string(resp.Header.Peek("WWW-Authenticate")) != `Bearer realm="sso"` {
		t.Errorf("refused: status %d, body %q, WWW-Authenticate %q", resp.StatusCode(), resp.Body(), resp.Header.Peek("WWW-Authenticate"))
	}
	if len(resp.Header.Peek("X-Internal")) != 0 {
		t.Error("a header not on client_headers reached the client")
	}
	for _, tok := range []string{"hang", "huge"} {
		start := time.Now()
		resp = gw.do(t, "GET", "/fa/items", map[string]string{"Authorization": "Bearer " + tok}, "")
		if resp.StatusCode() != 503 {
			t.Errorf("%s: status %d, want 503", tok, resp.StatusCode())
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s: the 503 took %v; the timeout is 300ms", tok, took)
		}
	}
	if got := gw.metric(t, `gateway_forward_auth_failures_total{route="fa"}`); got != 2 {
		t.Errorf("gateway_forward_auth_failures_total = %v, want 2", got)
	}
	if got := gw.metric(t, `gateway_auth_requests_total{result="error",route="fa"}`); got != 2 {
		t.Errorf("error results = %v, want 2", got)
	}
}

// A JWKS endpoint that answers garbage, hangs, or streams 10 MB never
// holds the gateway: it starts, tokens of that provider get 503, and the
// other routes serve.
func TestBadJWKSEndpoints(t *testing.T) {
	release := make(chan struct{})
	bad := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/garbage":
			ctx.SetBodyString("{not json")
		case "/hang":
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
		case "/huge":
			ctx.SetBody(make([]byte, 10<<20))
		}
	})
	key := jwttest.RSA(0, "k1")
	gw := startGateway(t, `
auth:
  jwt_providers:
    garbage: { jwks_url: "{UP1}/garbage", timeout: 200ms }
    hang: { jwks_url: "{UP1}/hang", timeout: 200ms }
    huge: { jwks_url: "{UP1}/huge", timeout: 2s, max_bytes: 64KiB }
routes:
  - { name: garbage, match: { path: /garbage }, access: { jwt: { provider: garbage } }, respond: {} }
  - { name: hang, match: { path: /hang }, access: { jwt: { provider: hang } }, respond: {} }
  - { name: huge, match: { path: /huge }, access: { jwt: { provider: huge } }, respond: {} }
  - { name: open, match: { path: /open }, respond: {} }
`, bad)
	t.Cleanup(func() { close(release) })
	tok := "Bearer " + key.Sign(t, tokenClaims("alice"))
	for _, path := range []string{"/garbage", "/hang", "/huge"} {
		resp := gw.do(t, "GET", path, map[string]string{"Authorization": tok}, "")
		if resp.StatusCode() != 503 || !strings.Contains(string(resp.Body()), "authentication unavailable") {
			t.Errorf("%s: status %d %s, want 503", path, resp.StatusCode(), resp.Body())
		}
	}
	if s := gw.do(t, "GET", "/open", nil, "").StatusCode(); s != 200 {
		t.Errorf("another route: status %d", s)
	}
	if got := gw.metric(t, `gateway_jwks_staleness_seconds{provider="hang"}`); got != -1 {
		t.Errorf("staleness of a provider never fetched: %v, want -1", got)
	}
	if got := gw.metric(t, `gateway_jwks_refreshes_total{provider="huge",result="failure"}`); got < 1 {
		t.Errorf("failed fetches of huge: %v, want at least 1", got)
	}
}
