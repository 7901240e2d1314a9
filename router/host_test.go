package router

import (
	"strings"
	"testing"
)

func TestMatchHost(t *testing.T) {
	long := strings.Repeat("a", 250) + ".example.com"
	tests := []struct {
		desc  string
		rules []Rule
		give  request
		want  result
	}{
		{
			desc:  "exact host",
			rules: []Rule{{ID: 1, Host: "api.example.com", Path: "/x"}},
			give:  get("api.example.com", "/x"),
			want:  hit(1),
		},
		{
			desc:  "host is case-insensitive",
			rules: []Rule{{ID: 1, Host: "api.example.com", Path: "/x"}},
			give:  get("API.Example.COM", "/x"),
			want:  hit(1),
		},
		{
			desc:  "rule host is normalized",
			rules: []Rule{{ID: 1, Host: "API.Example.com.", Path: "/x"}},
			give:  get("api.example.com", "/x"),
			want:  hit(1),
		},
		{
			desc:  "port ignored",
			rules: []Rule{{ID: 1, Host: "api.example.com", Path: "/x"}},
			give:  get("api.example.com:8080", "/x"),
			want:  hit(1),
		},
		{
			desc:  "trailing dot ignored",
			rules: []Rule{{ID: 1, Host: "api.example.com", Path: "/x"}},
			give:  get("api.example.com.:443", "/x"),
			want:  hit(1),
		},
		{
			desc:  "IPv6 literal with port",
			rules: []Rule{{ID: 1, Host: "[::1]", Path: "/x"}},
			give:  get("[::1]:8080", "/x"),
			want:  hit(1),
		},
		{
			desc:  "IPv6 literal without port",
			rules: []Rule{{ID: 1, Host: "[::1]", Path: "/x"}},
			give:  get("[::1]", "/x"),
			want:  hit(1),
		},
		{
			desc:  "other host does not match",
			rules: []Rule{{ID: 1, Host: "api.example.com", Path: "/x"}},
			give:  get("www.example.com", "/x"),
			want:  miss,
		},
		{
			desc:  "empty host matches only any-host rules",
			rules: []Rule{{ID: 1, Host: "api.example.com", Path: "/x"}, {ID: 2, Path: "/x"}},
			give:  get("", "/x"),
			want:  hit(2),
		},
		{
			desc:  "host over 255 bytes matches only any-host rules",
			rules: []Rule{{ID: 1, Host: "*.example.com", Path: "/x"}, {ID: 2, Path: "/x"}},
			give:  get(long, "/x"),
			want:  hit(2),
		},
		{
			desc:  "wildcard matches one label",
			rules: []Rule{{ID: 1, Host: "*.example.com", Path: "/x"}},
			give:  get("a.example.com", "/x"),
			want:  hit(1),
		},
		{
			desc:  "wildcard matches several labels",
			rules: []Rule{{ID: 1, Host: "*.example.com", Path: "/x"}},
			give:  get("a.b.EXAMPLE.com:80", "/x"),
			want:  hit(1),
		},
		{
			desc:  "wildcard does not match the bare domain",
			rules: []Rule{{ID: 1, Host: "*.example.com", Path: "/x"}},
			give:  get("example.com", "/x"),
			want:  miss,
		},
		{
			desc:  "wildcard does not match a longer label",
			rules: []Rule{{ID: 1, Host: "*.example.com", Path: "/x"}},
			give:  get("badexample.com", "/x"),
			want:  miss,
		},
		{
			desc:  "wildcard needs a non-empty label",
			rules: []Rule{{ID: 1, Host: "*.example.com", Path: "/x"}},
			give:  get(".example.com", "/x"),
			want:  miss,
		},
		{
			desc:  "exact host beats wildcard",
			rules: []Rule{{ID: 1, Host: "*.example.com", Path: "/x"}, {ID: 2, Host: "a.example.com", Path: "/x"}},
			give:  get("a.example.com", "/x"),
			want:  hit(2),
		},
		{
			desc:  "longest wildcard suffix wins",
			rules: []Rule{{ID: 1, Host: "*.example.com", Path: "/x"}, {ID: 2, Host: "*.b.example.com", Path: "/x"}},
			give:  get("a.b.example.com", "/x"),
			want:  hit(2),
		},
		{
			desc:  "shorter wildcard when the longer does not apply",
			rules: []Rule{{ID: 1, Host: "*.example.com", Path: "/x"}, {ID: 2, Host: "*.b.example.com", Path: "/x"}},
			give:  get("b.example.com", "/x"),
			want:  hit(1),
		},
		{
			desc:  "wildcard beats any host",
			rules: []Rule{{ID: 1, Path: "/x"}, {ID: 2, Host: "*.example.com", Path: "/x"}},
			give:  get("a.example.com", "/x"),
			want:  hit(2),
		},
		{
			desc:  "host group wins over a more specific path in a less specific group",
			rules: []Rule{{ID: 1, Path: "/hello"}, {ID: 2, Host: "api.example.com", PathPrefix: "/"}},
			give:  get("api.example.com", "/hello"),
			want:  hit(2),
		},
		{
			desc:  "path miss in host group falls through to wildcard",
			rules: []Rule{{ID: 1, Host: "*.example.com", Path: "/y"}, {ID: 2, Host: "api.example.com", PathPrefix: "/x/"}},
			give:  get("api.example.com", "/y"),
			want:  hit(1),
		},
		{
			desc:  "path miss in host groups falls through to any host",
			rules: []Rule{{ID: 1, Path: "/y"}, {ID: 2, Host: "*.example.com", Path: "/x"}, {ID: 3, Host: "api.example.com", Path: "/x"}},
			give:  get("api.example.com", "/y"),
			want:  hit(1),
		},
		{
			desc:  "method miss in host group falls through to any host",
			rules: []Rule{{ID: 1, Path: "/x"}, {ID: 2, Host: "api.example.com", Methods: []string{"POST"}, Path: "/x"}},
			give:  get("api.example.com", "/x"),
			want:  hit(1),
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			checkMatch(t, mustCompile(t, tt.rules), tt.give, tt.want)
		})
	}
}
