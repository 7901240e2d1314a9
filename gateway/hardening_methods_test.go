package gateway

import (
	"strings"
	"testing"
)

// TestHardeningTrace: TRACE, which would echo the request (its cookies and
// credentials included) back to the client, is refused with 405 and an
// Allow header on every route that does not list it in match.methods, and
// reaches the upstream only where a route lists it.
func TestHardeningTrace(t *testing.T) {
	up := startWitness(t)
	gw := startGateway(t, `
routes:
  - { name: listed, match: { path_prefix: /listed/, methods: [GET, trace] }, upstream: { targets: ["{UP1}"] } }
  - { name: get-only, match: { path_prefix: /get/, methods: [GET] }, upstream: { targets: ["{UP1}"] } }
  - { name: hello, match: { path: /hello }, respond: { body: hi } }
  - { name: any, match: { path_prefix: / }, upstream: { targets: ["{UP1}"] } }
`, up.url)
	tests := []struct {
		desc, method, path string
		status             string
		upstream           int32 // requests the upstream sees
		allow              bool  // the answer carries Allow
	}{
		{desc: "any method: TRACE refused", method: "TRACE", path: "/x", status: "HTTP/1.1 405", allow: true},
		{desc: "any method: GET served", method: "GET", path: "/x", status: "HTTP/1.1 200", upstream: 1},
		{desc: "respond route: TRACE refused", method: "TRACE", path: "/hello", status: "HTTP/1.1 405", allow: true},
		{desc: "TRACE listed: forwarded", method: "TRACE", path: "/listed/x", status: "HTTP/1.1 200", upstream: 1},
		{desc: "methods without TRACE: the catch-all refuses it", method: "TRACE", path: "/get/x", status: "HTTP/1.1 405", allow: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			before := up.requests.Load()
			status, resp := gw.raw(t, tt.method+" "+tt.path+" HTTP/1.1\r\nHost: a\r\nCookie: session=secret\r\nConnection: close\r\n\r\n")
			if !strings.HasPrefix(status, tt.status) {
				t.Fatalf("status line %q, want %s; answer:\n%s", status, tt.status, resp)
			}
			if n := up.requests.Load() - before; n != tt.upstream {
				t.Errorf("upstream saw %d requests, want %d", n, tt.upstream)
			}
			head, _, _ := strings.Cut(resp, "\r\n\r\n")
			if got := strings.Contains(head, "\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"); got != tt.allow {
				t.Errorf("Allow header present %v, want %v:\n%s", got, tt.allow, head)
			}
		})
	}
}
