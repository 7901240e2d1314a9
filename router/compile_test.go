package router

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// errorsOf flattens an errors.Join result.
func errorsOf(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestCompileConflicts(t *testing.T) {
	tests := []struct {
		desc string
		give []Rule
		want [][2]int // conflicting ID pairs, in order
	}{
		{
			desc: "same exact path and method",
			give: []Rule{{ID: 1, Methods: []string{"GET"}, Path: "/x"}, {ID: 2, Methods: []string{"GET"}, Path: "/x"}},
			want: [][2]int{{1, 2}},
		},
		{
			desc: "no methods overlaps a method",
			give: []Rule{{ID: 1, Path: "/x"}, {ID: 2, Methods: []string{"POST"}, Path: "/x"}},
			want: [][2]int{{1, 2}},
		},
		{
			desc: "overlapping method lists",
			give: []Rule{{ID: 1, Methods: []string{"GET", "POST"}, Path: "/x"}, {ID: 2, Methods: []string{"PUT", "POST"}, Path: "/x"}},
			want: [][2]int{{1, 2}},
		},
		{
			desc: "same path different methods",
			give: []Rule{{ID: 1, Methods: []string{"GET"}, Path: "/x"}, {ID: 2, Methods: []string{"POST"}, Path: "/x"}},
		},
		{
			desc: "same custom method",
			give: []Rule{{ID: 1, Methods: []string{"PURGE"}, Path: "/x"}, {ID: 2, Methods: []string{"purge"}, Path: "/x"}},
			want: [][2]int{{1, 2}},
		},
		{
			desc: "same path different hosts",
			give: []Rule{{ID: 1, Host: "a.example.com", Path: "/x"}, {ID: 2, Host: "b.example.com", Path: "/x"}, {ID: 3, Path: "/x"}, {ID: 4, Host: "*.example.com", Path: "/x"}},
		},
		{
			desc: "same host spelled differently",
			give: []Rule{{ID: 1, Host: "A.example.com", Path: "/x"}, {ID: 2, Host: "a.example.com.", Path: "/x"}},
			want: [][2]int{{1, 2}},
		},
		{
			desc: "same wildcard host",
			give: []Rule{{ID: 1, Host: "*.example.com", PathPrefix: "/x"}, {ID: 2, Host: "*.EXAMPLE.com", PathPrefix: "/x"}},
			want: [][2]int{{1, 2}},
		},
		{
			desc: "templates of the same shape",
			give: []Rule{{ID: 1, Path: "/u/{id}"}, {ID: 2, Path: "/u/{name}"}},
			want: [][2]int{{1, 2}},
		},
		{
			desc: "catch-alls of the same shape",
			give: []Rule{{ID: 1, Path: "/u/{a}/{r...}"}, {ID: 2, Path: "/u/{b}/{s...}"}},
			want: [][2]int{{1, 2}},
		},
		{
			desc: "templates of different shapes",
			give: []Rule{{ID: 1, Path: "/u/{id}"}, {ID: 2, Path: "/{u}/id"}, {ID: 3, Path: "/u/{id}/"}, {ID: 4, Path: "/u/{r...}"}},
		},
		{
			desc: "same prefix",
			give: []Rule{{ID: 1, PathPrefix: "/demo/"}, {ID: 2, PathPrefix: "/demo/"}},
			want: [][2]int{{1, 2}},
		},
		{
			desc: "same path in different kinds",
			give: []Rule{{ID: 1, Path: "/demo/"}, {ID: 2, PathPrefix: "/demo/"}},
		},
		{
			desc: "every conflicting rule is reported",
			give: []Rule{{ID: 1, Path: "/x"}, {ID: 2, Path: "/x"}, {ID: 3, Path: "/y"}, {ID: 4, Path: "/x"}, {ID: 5, Path: "/y"}},
			want: [][2]int{{1, 2}, {1, 4}, {3, 5}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tab, err := Compile(tt.give)
			var got [][2]int
			for _, e := range errorsOf(err) {
				var ce *ConflictError
				if !errors.As(e, &ce) {
					t.Fatalf("unexpected error %v", e)
				}
				got = append(got, [2]int{ce.A, ce.B})
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("conflicts = %v, want %v (error: %v)", got, tt.want, err)
			}
			if (tab == nil) != (len(tt.want) > 0) {
				t.Fatalf("table = %v with error %v", tab, err)
			}
		})
	}
}

func TestConflictErrorMessage(t *testing.T) {
	_, err := Compile([]Rule{
		{ID: 3, Host: "*.example.com", Methods: []string{"GET", "POST"}, Path: "/u/{id}"},
		{ID: 7, Host: "*.example.com", Methods: []string{"POST", "GET", "PUT"}, Path: "/u/{name}"},
	})
	want := `router: rules 3 and 7 conflict: both match host "*.example.com", template "/u/{}" and methods GET, POST`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
}

func TestCompileRuleErrors(t *testing.T) {
	tests := []struct {
		desc string
		give Rule
		want string // part of the message
	}{
		{desc: "no path", give: Rule{}, want: "set one of path and path prefix"},
		{desc: "both paths", give: Rule{Path: "/a", PathPrefix: "/a"}, want: "set only one"},
		{desc: "relative path", give: Rule{Path: "a"}, want: "must begin with '/'"},
		{desc: "relative prefix", give: Rule{PathPrefix: "a"}, want: "must begin with '/'"},
		{desc: "partial segment parameter", give: Rule{Path: "/a{b}"}, want: "whole segment"},
		{desc: "unclosed brace", give: Rule{Path: "/{a"}, want: "whole segment"},
		{desc: "empty parameter name", give: Rule{Path: "/{}"}, want: "invalid parameter name"},
		{desc: "nested braces", give: Rule{Path: "/{{a}}"}, want: "invalid parameter name"},
		{desc: "empty catch-all name", give: Rule{Path: "/{...}"}, want: "invalid parameter name"},
		{desc: "catch-all not last", give: Rule{Path: "/{a...}/b"}, want: "must be the last segment"},
		{desc: "duplicate parameter", give: Rule{Path: "/{a}/{a}"}, want: "appears twice"},
		{desc: "too many parameters", give: Rule{Path: "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}"}, want: "more than 8 parameters"},
		{desc: "host with port", give: Rule{Host: "example.com:8080", Path: "/"}, want: "must not include a port"},
		{desc: "IPv6 host with port", give: Rule{Host: "[::1]:8080", Path: "/"}, want: "invalid IPv6 literal"},
		{desc: "bare star host", give: Rule{Host: "*", Path: "/"}, want: "'*' is allowed only"},
		{desc: "star inside host", give: Rule{Host: "a.*.com", Path: "/"}, want: "'*' is allowed only"},
		{desc: "host with space", give: Rule{Host: "a b", Path: "/"}, want: "invalid character"},
		{desc: "dot host", give: Rule{Host: ".", Path: "/"}, want: "empty host name"},
		{desc: "long host", give: Rule{Host: strings.Repeat("a", 256), Path: "/"}, want: "longer than 255"},
		{desc: "empty method", give: Rule{Methods: []string{""}, Path: "/"}, want: "not a valid method name"},
		{desc: "method with space", give: Rule{Methods: []string{"G ET"}, Path: "/"}, want: "not a valid method name"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tt.give.ID = 42
			_, err := Compile([]Rule{{ID: 1, Path: "/ok"}, tt.give})
			errs := errorsOf(err)
			if len(errs) != 1 {
				t.Fatalf("errors = %v, want exactly one", err)
			}
			var re *RuleError
			if !errors.As(errs[0], &re) || re.ID != 42 || !strings.Contains(re.Error(), tt.want) {
				t.Fatalf("error = %v, want a RuleError for rule 42 containing %q", errs[0], tt.want)
			}
		})
	}
}

func TestCompileReportsAllErrors(t *testing.T) {
	_, err := Compile([]Rule{
		{ID: 0, Path: "bad"},
		{ID: 1, Path: "/x"},
		{ID: 2, Path: "/x"},
		{ID: 3, Methods: []string{"B AD"}, Path: "/y"},
	})
	if got := len(errorsOf(err)); got != 3 {
		t.Fatalf("got %d errors, want 3: %v", got, err)
	}
}

func TestCompileTooManyMethods(t *testing.T) {
	var rules []Rule
	for i := 0; i < 60; i++ {
		rules = append(rules, Rule{ID: i, Methods: []string{fmt.Sprintf("M%d", i)}, Path: "/x"})
	}
	_, err := Compile(rules)
	var re *RuleError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "distinct methods") {
		t.Fatalf("error = %v, want too many methods", err)
	}
}

func TestCompileLargeFanout(t *testing.T) {
	// More than smallFanout literal children exercises the map lookup.
	var rules []Rule
	for i := 0; i < 3*smallFanout; i++ {
		rules = append(rules, Rule{ID: i, Path: fmt.Sprintf("/s%d/{id}", i)})
	}
	tab := mustCompile(t, rules)
	for i := range rules {
		checkMatch(t, tab, get("", fmt.Sprintf("/s%d/v", i)), hit(i, "id", "v"))
	}
	checkMatch(t, tab, get("", "/nope/v"), miss)
}
