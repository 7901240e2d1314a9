package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const adminRoutes = `
routes:
  - { name: hello, match: { path: /hello }, respond: { body: "hi" } }
`

// adminDo sends one request to the admin listener at base with the given
// Host (when not "") and headers, and returns the status and body.
func adminDo(t *testing.T, method, url, host, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body, req.ContentLength = nil, 0
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminRefusesCrossSiteAndRebinding: a page in a browser cannot make
// the admin listener reload (cross-origin POST, text/plain or form body)
// nor read it through a name rebound to its address (Host not its own);
// curl-style calls and same-origin ones still work.
func TestAdminRefusesCrossSiteAndRebinding(t *testing.T) {
	g := startFileGatewayWatch(t, adminRoutes, false)
	own := strings.TrimPrefix(g.admin, "http://")
	for _, tt := range []struct {
		desc, method, path, host, body string
		hdr                            map[string]string
		want                           int
	}{
		{desc: "curl reload", method: "POST", path: "/-/reload", want: 200},
		{desc: "JSON body", method: "POST", path: "/-/reload", body: "{}",
			hdr: map[string]string{"Content-Type": "application/json"}, want: 200},
		{desc: "same origin", method: "POST", path: "/-/reload",
			hdr: map[string]string{"Origin": "http://" + own, "Sec-Fetch-Site": "same-origin"}, want: 200},
		{desc: "localhost name", method: "POST", path: "/-/reload", host: "localhost:9901", want: 200},
		{desc: "cross-origin text/plain", method: "POST", path: "/-/reload", body: "x",
			hdr: map[string]string{"Origin": "http://evil.example", "Content-Type": "text/plain"}, want: 403},
		{desc: "cross-origin empty", method: "POST", path: "/-/reload",
			hdr: map[string]string{"Origin": "http://evil.example"}, want: 403},
		{desc: "null origin", method: "POST", path: "/-/reload",
			hdr: map[string]string{"Origin": "null"}, want: 403},
		{desc: "cross-site fetch metadata", method: "POST", path: "/-/reload",
			hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: 403},
		{desc: "form body without origin", method: "POST", path: "/-/reload", body: "a=b",
			hdr: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want: 415},
		{desc: "text/plain without origin", method: "POST", path: "/-/reload", body: "x",
			hdr: map[string]string{"Content-Type": "text/plain"}, want: 415},
		{desc: "rebound name reload", method: "POST", path: "/-/reload", host: "evil.example:9901", want: 403},
		{desc: "rebound name config", method: "GET", path: "/-/config", host: "evil.example", want: 403},
		{desc: "rebound name pprof", method: "GET", path: "/debug/pprof/", host: "evil.example", want: 403},
		{desc: "non-loopback IP over loopback", method: "GET", path: "/-/config", host: "10.1.2.3:9901", want: 403},
		{desc: "rebound name metrics stay open", method: "GET", path: "/metrics", host: "evil.example", want: 200},
		{desc: "rebound name healthz stays open", method: "GET", path: "/healthz", host: "evil.example", want: 200},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			status, body := adminDo(t, tt.method, g.admin+tt.path, tt.host, tt.body, tt.hdr)
			if status != tt.want {
				t.Errorf("%s %s (Host %q): %d %s, want %d", tt.method, tt.path, tt.host, status, body, tt.want)
			}
		})
	}
}

// TestAdminHostAllowed: which Host headers name the admin listener, by
// the address the connection reached.
func TestAdminHostAllowed(t *testing.T) {
	loop := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9901}
	public := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 9901}
	for _, tt := range []struct {
		desc  string
		local net.Addr
		host  string
		hosts []string
		want  bool
	}{
		{desc: "loopback IP", local: loop, host: "127.0.0.1:9901", want: true},
		{desc: "loopback IPv6", local: loop, host: "[::1]:9901", want: true},
		{desc: "localhost", local: loop, host: "LOCALHOST", want: true},
		{desc: "sub.localhost", local: loop, host: "app.localhost:1", want: true},
		{desc: "no Host (HTTP/1.0)", local: loop, host: "", want: true},
		{desc: "other IP over loopback", local: loop, host: "10.0.0.5", want: false},
		{desc: "name over loopback", local: loop, host: "attacker.example", want: false},
		{desc: "listed name", local: loop, host: "Gateway.Internal:9901", hosts: []string{"gateway.internal"}, want: true},
		{desc: "pod IP on a public listener", local: public, host: "10.0.0.5:9901", want: true},
		{desc: "any IP on a public listener", local: public, host: "192.0.2.7", want: true},
		{desc: "name on a public listener", local: public, host: "attacker.example", want: false},
		{desc: "listed name on a public listener", local: public, host: "gw-0.gw.svc", hosts: []string{"gw-0.gw.svc"}, want: true},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "/-/config", nil)
			req.Host = tt.host
			req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, tt.local))
			if got := adminHostAllowed(req, tt.hosts); got != tt.want {
				t.Errorf("Host %q via %v: %v, want %v", tt.host, tt.local, got, tt.want)
			}
		})
	}
}

// TestAdminToken: with admin_auth, the configuration, reload and debug
// endpoints need the token; metrics and health stay open; a reload picks
// up a new token.
func TestAdminToken(t *testing.T) {
	dir := t.TempDir()
	token := "s3cret-token-0123456789"
	if err := os.WriteFile(filepath.Join(dir, "admin.token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, "admin_auth: { token_file: admin.token }\n"+adminRoutes)
	g := followFile(t, path, false)
	bearer := func(s string) map[string]string { return map[string]string{"Authorization": "Bearer " + s} }
	for _, tt := range []struct {
		desc, method, path string
		hdr                map[string]string
		want               int
	}{
		{desc: "config without token", method: "GET", path: "/-/config", want: 401},
		{desc: "config wrong token", method: "GET", path: "/-/config", hdr: bearer("s3cret-token-0123456788"), want: 401},
		{desc: "config token prefix", method: "GET", path: "/-/config", hdr: bearer("s3cret"), want: 401},
		{desc: "config basic scheme", method: "GET", path: "/-/config", hdr: map[string]string{"Authorization": "Basic " + token}, want: 401},
		{desc: "config token", method: "GET", path: "/-/config", hdr: bearer(token), want: 200},
		{desc: "routes without token", method: "GET", path: "/-/routes", want: 401},
		{desc: "digest without token", method: "GET", path: "/-/config/digest", want: 401},
		{desc: "pprof without token", method: "GET", path: "/debug/pprof/", want: 401},
		{desc: "pprof profile without token", method: "GET", path: "/debug/pprof/profile?seconds=1", want: 401},
		{desc: "pprof token", method: "GET", path: "/debug/pprof/", hdr: bearer(token), want: 200},
		{desc: "reload without token", method: "POST", path: "/-/reload", want: 401},
		{desc: "reload token", method: "POST", path: "/-/reload", hdr: bearer(token), want: 200},
		{desc: "metrics open", method: "GET", path: "/metrics", want: 200},
		{desc: "healthz open", method: "GET", path: "/healthz", want: 200},
		{desc: "readyz open", method: "GET", path: "/readyz", want: 200},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			status, body := adminDo(t, tt.method, g.admin+tt.path, "", "", tt.hdr)
			if status != tt.want {
				t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, status, body, tt.want)
			}
		})
	}
	if status, body := adminDo(t, "GET", g.admin+"/-/config", "", "", bearer(token)); strings.Contains(body, token) {
		t.Errorf("/-/config shows the token: %d %s", status, body)
	}

	// A new token takes effect with the next reload.
	next := "n3w-token-abcdefghijklmnop"
	if err := os.WriteFile(filepath.Join(dir, "admin.token"), []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	if status, body := adminDo(t, "POST", g.admin+"/-/reload", "", "", bearer(token)); status != 200 {
		t.Fatalf("reload: %d %s", status, body)
	}
	if status, _ := adminDo(t, "GET", g.admin+"/-/config", "", "", bearer(token)); status != 401 {
		t.Errorf("old token after rotation: %d, want 401", status)
	}
	if status, _ := adminDo(t, "GET", g.admin+"/-/config", "", "", bearer(next)); status != 200 {
		t.Errorf("new token after rotation: %d, want 200", status)
	}
}

// TestAdminEndpointsOff: admin_endpoints turns pprof and /-/reload off.
func TestAdminEndpointsOff(t *testing.T) {
	g := startFileGatewayWatch(t, "admin_endpoints: { pprof: false, reload: false }\n"+adminRoutes, false)
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=1"} {
		if status, body := adminDo(t, "GET", g.admin+p, "", "", nil); status != 404 {
			t.Errorf("GET %s with pprof off: %d %s, want 404", p, status, body)
		}
	}
	if status, body := adminDo(t, "POST", g.admin+"/-/reload", "", "", nil); status != 404 {
		t.Errorf("POST /-/reload with reload off: %d %s, want 404", status, body)
	}
	if status, _ := adminDo(t, "GET", g.admin+"/-/config", "", "", nil); status != 200 {
		t.Errorf("GET /-/config: %d, want 200", status)
	}
	// Reloads by other means go on.
	if _, err := g.reloader.Reload("test", false); err != nil {
		t.Errorf("reload with /-/reload off: %v", err)
	}
}
