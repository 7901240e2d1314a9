package router

import "testing"

func TestMatchMethod(t *testing.T) {
	tests := []struct {
		desc  string
		rules []Rule
		give  request
		want  result
	}{
		{
			desc:  "method filtered out",
			rules: []Rule{{ID: 1, Methods: []string{"GET"}, Path: "/x"}},
			give:  request{"POST", "", "/x"},
			want:  miss,
		},
		{
			desc:  "no methods means any",
			rules: []Rule{{ID: 1, Path: "/x"}},
			give:  request{"DELETE", "", "/x"},
			want:  hit(1),
		},
		{
			desc:  "same path, method picks the rule",
			rules: []Rule{{ID: 1, Methods: []string{"GET"}, Path: "/x"}, {ID: 2, Methods: []string{"POST", "PUT"}, Path: "/x"}},
			give:  request{"PUT", "", "/x"},
			want:  hit(2),
		},
		{
			desc:  "method miss on exact falls through to template",
			rules: []Rule{{ID: 1, Methods: []string{"POST"}, Path: "/x"}, {ID: 2, Methods: []string{"GET"}, Path: "/{a}"}},
			give:  get("", "/x"),
			want:  hit(2, "a", "x"),
		},
		{
			desc:  "method miss on literal template backtracks to parameter",
			rules: []Rule{{ID: 1, Methods: []string{"POST"}, Path: "/u/{id}/x"}, {ID: 2, Path: "/{k}/{id}/x"}},
			give:  get("", "/u/5/x"),
			want:  hit(2, "k", "u", "id", "5"),
		},
		{
			desc:  "method miss on template falls through to catch-all",
			rules: []Rule{{ID: 1, Methods: []string{"POST"}, Path: "/f/{a}"}, {ID: 2, Path: "/f/{r...}"}},
			give:  get("", "/f/x"),
			want:  hit(2, "r", "x"),
		},
		{
			desc:  "method miss on longest prefix falls back to shorter",
			rules: []Rule{{ID: 1, PathPrefix: "/a/"}, {ID: 2, Methods: []string{"POST"}, PathPrefix: "/a/b/"}},
			give:  get("", "/a/b/c"),
			want:  hit(1),
		},
		{
			desc:  "unknown method matches only rules without methods",
			rules: []Rule{{ID: 1, PathPrefix: "/"}, {ID: 2, Methods: []string{"GET"}, Path: "/x"}},
			give:  request{"PURGE", "", "/x"},
			want:  hit(1),
		},
		{
			desc:  "custom method named by a rule",
			rules: []Rule{{ID: 1, PathPrefix: "/"}, {ID: 2, Methods: []string{"PURGE"}, Path: "/x"}},
			give:  request{"PURGE", "", "/x"},
			want:  hit(2),
		},
		{
			desc:  "rule methods are upper-cased",
			rules: []Rule{{ID: 1, Methods: []string{"get"}, Path: "/x"}},
			give:  get("", "/x"),
			want:  hit(1),
		},
		{
			desc:  "request method is case-sensitive",
			rules: []Rule{{ID: 1, Methods: []string{"GET"}, Path: "/x"}},
			give:  request{"get", "", "/x"},
			want:  miss,
		},
		{
			desc:  "HEAD is not implied by GET",
			rules: []Rule{{ID: 1, Methods: []string{"GET"}, Path: "/x"}},
			give:  request{"HEAD", "", "/x"},
			want:  miss,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			checkMatch(t, mustCompile(t, tt.rules), tt.give, tt.want)
		})
	}
}
