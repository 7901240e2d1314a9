//go:build !race

package router

import "testing"

func TestMatchAllocs(t *testing.T) {
	tab := mustCompile(t, []Rule{
		{ID: 1, Path: "/hello", Methods: []string{"GET"}},
		{ID: 2, Path: "/users/{id}/posts/{post}"},
		{ID: 3, PathPrefix: "/static/"},
		{ID: 4, Host: "*.example.com", Path: "/api/{v}"},
		{ID: 5, Host: "api.example.com", Path: "/files/{p...}"},
		{ID: 6, Path: "/purge", Methods: []string{"PURGE"}},
	})
	tests := []struct {
		desc string
		give request
		want int
	}{
		{desc: "exact", give: get("", "/hello"), want: 1},
		{desc: "template with params", give: get("x.org", "/users/42/posts/7"), want: 2},
		{desc: "prefix", give: get("", "/static/app.js"), want: 3},
		{desc: "wildcard host", give: get("A.B.Example.com:8443", "/api/v1"), want: 4},
		{desc: "exact host catch-all", give: get("api.example.com.", "/files/a/b"), want: 5},
		{desc: "custom method", give: request{"PURGE", "", "/purge"}, want: 6},
		{desc: "no match", give: request{"BREW", "tea.example.com", "/pot"}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			m, h, path := []byte(tt.give.method), []byte(tt.give.host), []byte(tt.give.path)
			var p Params
			allocs := testing.AllocsPerRun(100, func() {
				if id, _ := tab.Match(m, h, path, &p); id != tt.want {
					t.Fatalf("id = %d, want %d", id, tt.want)
				}
			})
			if allocs != 0 {
				t.Fatalf("Match allocates %v times per call, want 0", allocs)
			}
		})
	}
}
