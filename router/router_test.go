package router

import "testing"

// request is the input of one Match call.
type request struct {
	method, host, path string
}

// result is what Match should return; params are name, value pairs in
// template order.
type result struct {
	id     int
	ok     bool
	params []string
}

func hit(id int, params ...string) result { return result{id: id, ok: true, params: params} }

var miss = result{}

func get(host, path string) request { return request{"GET", host, path} }

func mustCompile(t testing.TB, rules []Rule) *Table {
	t.Helper()
	tab, err := Compile(rules)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if tab.Len() != len(rules) {
		t.Fatalf("Len() = %d, want %d", tab.Len(), len(rules))
	}
	return tab
}

func checkMatch(t *testing.T, tab *Table, give request, want result) {
	t.Helper()
	var p Params
	p.push([]byte("stale")) // Match must reset p
	id, ok := tab.Match([]byte(give.method), []byte(give.host), []byte(give.path), &p)
	if ok != want.ok || id != want.id {
		t.Fatalf("Match(%q, %q, %q) = %d, %v; want %d, %v", give.method, give.host, give.path, id, ok, want.id, want.ok)
	}
	if p.Len() != len(want.params)/2 {
		t.Fatalf("Params.Len() = %d, want %d", p.Len(), len(want.params)/2)
	}
	for i := 0; i < p.Len(); i++ {
		name, value := p.At(i)
		if name != want.params[2*i] || string(value) != want.params[2*i+1] {
			t.Errorf("Params.At(%d) = %q, %q; want %q, %q", i, name, value, want.params[2*i], want.params[2*i+1])
		}
		if got := p.Get(name); string(got) != want.params[2*i+1] {
			t.Errorf("Params.Get(%q) = %q, want %q", name, got, want.params[2*i+1])
		}
	}
	if p.Get("no-such-param") != nil {
		t.Errorf("Params.Get of a missing name is not nil")
	}
	// Without Params the same rule matches.
	if id2, ok2 := tab.Match([]byte(give.method), []byte(give.host), []byte(give.path), nil); id2 != id || ok2 != ok {
		t.Errorf("Match with nil Params = %d, %v; want %d, %v", id2, ok2, id, ok)
	}
}

func TestMatchPath(t *testing.T) {
	tests := []struct {
		desc  string
		rules []Rule
		give  request
		want  result
	}{
		{
			desc:  "exact path",
			rules: []Rule{{ID: 1, Path: "/hello"}},
			give:  get("", "/hello"),
			want:  hit(1),
		},
		{
			desc:  "exact path needs the whole path",
			rules: []Rule{{ID: 1, Path: "/hello"}},
			give:  get("", "/hello/"),
			want:  miss,
		},
		{
			desc:  "exact beats template",
			rules: []Rule{{ID: 1, Path: "/users/{id}"}, {ID: 2, Path: "/users/me"}},
			give:  get("", "/users/me"),
			want:  hit(2),
		},
		{
			desc:  "template beats prefix",
			rules: []Rule{{ID: 1, PathPrefix: "/users/"}, {ID: 2, Path: "/users/{id}"}},
			give:  get("", "/users/42"),
			want:  hit(2, "id", "42"),
		},
		{
			desc:  "exact beats prefix",
			rules: []Rule{{ID: 1, PathPrefix: "/users/me"}, {ID: 2, Path: "/users/me"}},
			give:  get("", "/users/me"),
			want:  hit(2),
		},
		{
			desc:  "longest prefix wins",
			rules: []Rule{{ID: 1, PathPrefix: "/a/"}, {ID: 2, PathPrefix: "/a/b/"}, {ID: 3, PathPrefix: "/"}},
			give:  get("", "/a/b/c"),
			want:  hit(2),
		},
		{
			desc:  "shorter prefix when the longer does not apply",
			rules: []Rule{{ID: 1, PathPrefix: "/a/"}, {ID: 2, PathPrefix: "/a/b/"}, {ID: 3, PathPrefix: "/"}},
			give:  get("", "/a/bc"),
			want:  hit(1),
		},
		{
			desc:  "prefix without slash is a byte prefix",
			rules: []Rule{{ID: 1, PathPrefix: "/demo"}},
			give:  get("", "/demox"),
			want:  hit(1),
		},
		{
			desc:  "prefix matches itself",
			rules: []Rule{{ID: 1, PathPrefix: "/demo"}},
			give:  get("", "/demo"),
			want:  hit(1),
		},
		{
			desc:  "prefix with slash does not match the bare directory",
			rules: []Rule{{ID: 1, PathPrefix: "/demo/"}},
			give:  get("", "/demo"),
			want:  miss,
		},
		{
			desc:  "params extracted in order",
			rules: []Rule{{ID: 1, Path: "/users/{id}/posts/{post}"}},
			give:  get("", "/users/42/posts/7"),
			want:  hit(1, "id", "42", "post", "7"),
		},
		{
			desc:  "param needs a non-empty segment",
			rules: []Rule{{ID: 1, Path: "/users/{id}"}},
			give:  get("", "/users/"),
			want:  miss,
		},
		{
			desc:  "param takes one segment only",
			rules: []Rule{{ID: 1, Path: "/users/{id}"}},
			give:  get("", "/users/42/x"),
			want:  miss,
		},
		{
			desc:  "template trailing slash matters",
			rules: []Rule{{ID: 1, Path: "/users/{id}"}},
			give:  get("", "/users/42/"),
			want:  miss,
		},
		{
			desc:  "template with trailing slash",
			rules: []Rule{{ID: 1, Path: "/users/{id}/"}},
			give:  get("", "/users/42/"),
			want:  hit(1, "id", "42"),
		},
		{
			desc:  "literal segment beats parameter",
			rules: []Rule{{ID: 1, Path: "/{a}/b"}, {ID: 2, Path: "/x/{b}"}},
			give:  get("", "/x/b"),
			want:  hit(2, "b", "b"),
		},
		{
			desc:  "literal beats parameter at a later segment",
			rules: []Rule{{ID: 1, Path: "/a/{x}/{y}"}, {ID: 2, Path: "/a/{x}/c"}},
			give:  get("", "/a/b/c"),
			want:  hit(2, "x", "b"),
		},
		{
			desc:  "backtracks from a literal branch that fails later",
			rules: []Rule{{ID: 1, Path: "/a/b/{y}/z"}, {ID: 2, Path: "/a/{x}/c"}},
			give:  get("", "/a/b/c"),
			want:  hit(2, "x", "b"),
		},
		{
			desc:  "same shape different names keep their own names",
			rules: []Rule{{ID: 1, Methods: []string{"GET"}, Path: "/u/{id}"}, {ID: 2, Methods: []string{"POST"}, Path: "/u/{name}"}},
			give:  request{"POST", "", "/u/bob"},
			want:  hit(2, "name", "bob"),
		},
		{
			desc:  "catch-all captures the rest",
			rules: []Rule{{ID: 1, Path: "/files/{path...}"}},
			give:  get("", "/files/a/b.txt"),
			want:  hit(1, "path", "a/b.txt"),
		},
		{
			desc:  "catch-all may be empty",
			rules: []Rule{{ID: 1, Path: "/files/{path...}"}},
			give:  get("", "/files/"),
			want:  hit(1, "path", ""),
		},
		{
			desc:  "catch-all needs its slash",
			rules: []Rule{{ID: 1, Path: "/files/{path...}"}},
			give:  get("", "/files"),
			want:  miss,
		},
		{
			desc:  "catch-all after a parameter",
			rules: []Rule{{ID: 1, Path: "/u/{id}/{rest...}"}},
			give:  get("", "/u/7/a/b"),
			want:  hit(1, "id", "7", "rest", "a/b"),
		},
		{
			desc:  "template beats catch-all",
			rules: []Rule{{ID: 1, Path: "/files/{path...}"}, {ID: 2, Path: "/{a}/{b}"}},
			give:  get("", "/files/x"),
			want:  hit(2, "a", "files", "b", "x"),
		},
		{
			desc:  "catch-all beats prefix",
			rules: []Rule{{ID: 1, PathPrefix: "/files/"}, {ID: 2, Path: "/files/{path...}"}},
			give:  get("", "/files/x/y"),
			want:  hit(2, "path", "x/y"),
		},
		{
			desc:  "deeper literal catch-all wins",
			rules: []Rule{{ID: 1, Path: "/a/{r...}"}, {ID: 2, Path: "/a/b/{r...}"}, {ID: 3, Path: "/a/{x}/{r...}"}},
			give:  get("", "/a/b/c"),
			want:  hit(2, "r", "c"),
		},
		{
			desc:  "parameter beats catch-all at the same segment",
			rules: []Rule{{ID: 1, Path: "/a/{r...}"}, {ID: 3, Path: "/a/{x}/{r...}"}},
			give:  get("", "/a/b/c"),
			want:  hit(3, "x", "b", "r", "c"),
		},
		{
			desc:  "path without leading slash matches nothing",
			rules: []Rule{{ID: 1, PathPrefix: "/"}, {ID: 2, Path: "/{a}"}},
			give:  request{"OPTIONS", "", "*"},
			want:  miss,
		},
		{
			desc:  "no match",
			rules: []Rule{{ID: 1, Path: "/a"}, {ID: 2, Path: "/b/{x}"}, {ID: 3, PathPrefix: "/c/"}},
			give:  get("", "/d"),
			want:  miss,
		},
		{
			desc:  "empty table",
			rules: nil,
			give:  get("", "/"),
			want:  miss,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			checkMatch(t, mustCompile(t, tt.rules), tt.give, tt.want)
		})
	}
}

func TestParamsReuse(t *testing.T) {
	tab := mustCompile(t, []Rule{{ID: 1, Path: "/u/{id}"}, {ID: 2, Path: "/x"}})
	var p Params
	if id, ok := tab.Match([]byte("GET"), nil, []byte("/u/1"), &p); !ok || id != 1 || string(p.Get("id")) != "1" {
		t.Fatalf("first match: %d %v %q", id, ok, p.Get("id"))
	}
	if id, ok := tab.Match([]byte("GET"), nil, []byte("/x"), &p); !ok || id != 2 || p.Len() != 0 || p.Get("id") != nil {
		t.Fatalf("second match: %d %v, Len %d", id, ok, p.Len())
	}
	p.push([]byte("v"))
	p.Reset()
	if p.Len() != 0 {
		t.Fatalf("Len after Reset = %d", p.Len())
	}
}

func TestNilTable(t *testing.T) {
	var tab *Table
	if _, ok := tab.Match([]byte("GET"), nil, []byte("/"), nil); ok || tab.Len() != 0 {
		t.Fatal("nil table matched")
	}
	var p *Params
	if p.Len() != 0 || p.Get("x") != nil {
		t.Fatal("nil Params not empty")
	}
}
