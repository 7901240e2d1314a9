package httpx

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestCheckTarget holds the policy on its own, with the cases the fuzz
// target starts from.
func TestCheckTarget(t *testing.T) {
	tests := []struct {
		give string
		want TargetForm
	}{
		{"/", TargetOrigin},
		{"/a/b?c=d", TargetOrigin},
		{"/a/..", TargetOrigin},
		{"/..", TargetBad},
		{"/a/%2E%2E/%2e%2e", TargetBad},
		{"/.../x", TargetOrigin}, // "..." is a name, not a dot segment
		{"/..a", TargetOrigin},
		{"http://h", TargetAbsolute},
		{"HTTPS://h/x", TargetAbsolute},
		{"http:///x", TargetBad},
		{"http://h/x#f", TargetBad},
		{"", TargetBad},
		{"/a%2", TargetBad},
		{"/a%C3%A9", TargetOrigin},
		{"/a\x7f", TargetBad},
	}
	for _, tt := range tests {
		if got := CheckTarget([]byte(tt.give)); got != tt.want {
			t.Errorf("CheckTarget(%q) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

// FuzzCheckTarget: for every target the path policy accepts, the path the
// gateway routes on is the one the upstream reads back from the request
// line the gateway sends, and it holds nothing a server could read as
// another path (no dot segment, backslash, NUL or ';').
func FuzzCheckTarget(f *testing.F) {
	for _, s := range []string{
		"/", "/a/b?c", "//a///b", "/x/../admin", "/pub%2F..%2Fadmin", "/%2e%2e/a",
		"/a;b", "/a\\b", "http://h//x", "/a%20b", "/%7E", "/a/./b/..", "/%C3%A9",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if CheckTarget([]byte(target)) == TargetBad {
			return
		}
		var u fasthttp.URI
		if err := u.Parse([]byte("h"), []byte(target)); err != nil {
			return // fasthttp refuses it before the handler runs
		}
		routed := string(u.Path())
		if !strings.HasPrefix(routed, "/") || strings.ContainsAny(routed, "\\\x00;") ||
			strings.Contains(routed+"/", "/../") || strings.Contains(routed+"/", "/./") || strings.Contains(routed, "//") {
			t.Fatalf("%q routes on %q", target, routed)
		}
		var sent fasthttp.URI
		if err := sent.Parse([]byte("h"), u.RequestURI()); err != nil {
			t.Fatalf("%q is sent as %q, which does not parse: %v", target, u.RequestURI(), err)
		}
		if got := string(sent.Path()); got != routed {
			t.Fatalf("%q routes on %q but the upstream reads %q from %q", target, routed, got, u.RequestURI())
		}
	})
}
