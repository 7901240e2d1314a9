package gateway

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestConfigCatchAllAndExtensionMethods loads a config with a catch-all
// template and extension methods, as the README documents them, and sends
// requests through the gateway.
func TestConfigCatchAllAndExtensionMethods(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString(string(ctx.Method()) + " " + string(ctx.Path()))
	})
	g := startGateway(t, `
routes:
  - name: files
    match: { path: "/files/{rest...}", methods: [GET] }
    upstream: { targets: ["{UP1}"] }
  - name: purge
    match: { path_prefix: "/cache/", methods: [PURGE, PROPFIND] }
    upstream: { targets: ["{UP1}"] }
`, up)
	tests := []struct {
		desc, method, path string
		wantStatus         int
		wantBody           string
	}{
		{desc: "catch-all, two segments", method: "GET", path: "/files/a/b", wantStatus: 200, wantBody: "GET /files/a/b"},
		{desc: "catch-all, empty rest", method: "GET", path: "/files/", wantStatus: 200, wantBody: "GET /files/"},
		{desc: "PURGE", method: "PURGE", path: "/cache/x", wantStatus: 200, wantBody: "PURGE /cache/x"},
		{desc: "PROPFIND", method: "PROPFIND", path: "/cache/y", wantStatus: 200, wantBody: "PROPFIND /cache/y"},
		{desc: "method not listed", method: "GET", path: "/cache/x", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			resp := g.do(t, tt.method, tt.path, nil, "")
			if resp.StatusCode() != tt.wantStatus {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode(), tt.wantStatus, resp.Body())
			}
			if tt.wantBody != "" && string(resp.Body()) != tt.wantBody {
				t.Errorf("body %q, want %q", resp.Body(), tt.wantBody)
			}
		})
	}
}

// TestAdminConfigHidesCredentials reads /-/config of a gateway whose
// configuration holds credentials in places that names alone do not give
// away.
func TestAdminConfigHidesCredentials(t *testing.T) {
	g := startGateway(t, `
routes:
  - name: r
    match: { path: /r }
    request_headers: { set: { X-Auth: hdrsecret1, Content-Type: text/plain } }
    respond: { headers: { X-Signature: hdrsecret2 } }
discovery:
  etcd: { endpoints: ["http://root:etcdsecret@127.0.0.1:2379"] }
`)
	_, body, err := fasthttp.Get(nil, g.admin+"/-/config")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hdrsecret1", "hdrsecret2", "etcdsecret", "root"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("/-/config shows %q:\n%s", secret, body)
		}
	}
	if !strings.Contains(string(body), "Content-Type: text/plain") {
		t.Errorf("/-/config hides a harmless header:\n%s", body)
	}
}
