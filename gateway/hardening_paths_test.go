package gateway

import (
	"strings"
	"testing"
)

// TestHardeningPaths: a route protected by a stricter config (/admin
// answers 403 by itself) is never reached through the catch-all proxy by
// any spelling of its path, and the upstream receives exactly the path the
// gateway routed on.
func TestHardeningPaths(t *testing.T) {
	up := startWitness(t)
	gw := startGateway(t, `
routes:
  - name: admin
    match: { path_prefix: /admin }
    respond: { status: 403, body: "protected" }
  - name: any
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"] }
`, up.url)
	tests := []struct {
		desc    string
		give    string // request target
		want    int    // status
		wantURI string // what the upstream receives, for 200
	}{
		{desc: "plain", give: "/admin", want: 403},
		{desc: "encoded slash", give: "/pub%2F..%2Fadmin", want: 400},
		{desc: "encoded slash lower case", give: "/pub%2f..%2fadmin", want: 400},
		{desc: "encoded backslash", give: "/pub%5C..%5Cadmin", want: 400},
		{desc: "encoded NUL", give: "/admin%00", want: 400},
		{desc: "encoded control character", give: "/admin%0d%0aX-A:%20b", want: 400},
		{desc: "double encoding", give: "/pub%252F..%252Fadmin", want: 400},
		{desc: "encoded percent", give: "/a%25b", want: 400},
		{desc: "malformed escape", give: "/admin%zz", want: 400},
		{desc: "truncated escape", give: "/admin%4", want: 400},
		{desc: "semicolon parameter", give: "/admin;x=1", want: 400},
		{desc: "semicolon before the protected segment", give: "/x;/../admin", want: 400},
		{desc: "encoded semicolon", give: "/admin%3Bx", want: 400},
		{desc: "encoded question mark", give: "/admin%3F", want: 400},
		{desc: "encoded hash", give: "/admin%23", want: 400},
		{desc: "fragment", give: "/x#/../admin", want: 400},
		{desc: "raw backslash", give: "/pub\\..\\admin", want: 400},
		{desc: "leading backslash", give: "/\\admin", want: 400},
		{desc: "double slash", give: "//admin", want: 403},
		{desc: "dot segment", give: "/./admin", want: 403},
		{desc: "parent segment", give: "/x/../admin", want: 403},
		{desc: "encoded dots", give: "/x/%2e%2E/admin", want: 403},
		{desc: "encoded letter", give: "/%61dmin", want: 403},
		{desc: "climbing above the root", give: "/../admin", want: 400},
		{desc: "climbing above the root, encoded", give: "/%2e%2e/admin", want: 400},
		{desc: "climbing above the root later", give: "/a/../../admin", want: 400},
		{desc: "scheme-relative with a scheme inside", give: "//admin/http://x", want: 400},
		{desc: "not origin-form", give: "admin", want: 400},
		{desc: "asterisk-form", give: "*", want: 400},
		{desc: "unknown scheme", give: "ftp://a/admin", want: 400},
		{desc: "absolute-form", give: "http://a/admin", want: 403},
		{desc: "absolute-form with userinfo", give: "http://u@a/x", want: 400},
		{desc: "merged slashes forwarded", give: "//a///b", want: 200, wantURI: "/a/b"},
		{desc: "dot segments forwarded", give: "/a/./b/../c", want: 200, wantURI: "/a/c"},
		{desc: "unreserved escapes decoded", give: "/%7Euser/%41", want: 200, wantURI: "/~user/A"},
		{desc: "space stays encoded", give: "/a%20b", want: 200, wantURI: "/a%20b"},
		{desc: "query kept as sent", give: "/a//b?x=%2F&y=;", want: 200, wantURI: "/a/b?x=%2F&y=;"},
		{desc: "trailing parent segment", give: "/a/b/..", want: 200, wantURI: "/a/"},
		{desc: "near miss stays off the protected route", give: "/xadmin", want: 200, wantURI: "/xadmin"},
		{desc: "absolute-form forwarded in origin-form", give: "http://a//b?q=1", want: 200, wantURI: "/b?q=1"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			before := up.requests.Load()
			status, resp := gw.raw(t, "GET "+tt.give+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
			want := "HTTP/1.1 " + itoa3(tt.want)
			if !strings.HasPrefix(status, want) {
				t.Fatalf("status line %q, want %s; answer:\n%s", status, want, resp)
			}
			n := up.requests.Load() - before
			if tt.want != 200 {
				if n != 0 {
					t.Errorf("upstream saw %d requests, want none", n)
				}
				return
			}
			if n != 1 {
				t.Fatalf("upstream saw %d requests, want 1", n)
			}
			if uri, _, _ := up.last(); uri != tt.wantURI {
				t.Errorf("upstream received %q, want %q", uri, tt.wantURI)
			}
		})
	}
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}
