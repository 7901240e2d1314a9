package gateway

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/fastgate/gateway/config"
)

// keptTree writes a main file that includes three files of one route
// each, and returns the main file's path.
func keptTree(t *testing.T, main string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "gateway.yaml"), main)
	for _, name := range []string{"a", "b", "c"} {
		writeFile(t, filepath.Join(dir, name+".yaml"),
			"routes:\n  - { name: "+name+", match: { path: /"+name+" }, respond: { body: "+name+" } }\n")
	}
	return filepath.Join(dir, "gateway.yaml")
}

// TestReloadKeepsUnchangedFiles: a reload through the reloader, which
// reads again only the files that changed, reports and applies what
// changed as a full read would: one file's route, then every route when
// the main file changes a setting routes are built with.
func TestReloadKeepsUnchangedFiles(t *testing.T) {
	const main = "include: [a.yaml, b.yaml, c.yaml]\n"
	path := keptTree(t, main)
	g := followFile(t, path, false)
	reload := func(desc string) ReloadResult {
		t.Helper()
		res, err := g.reloader.Reload("test", false)
		if err != nil || !res.Applied {
			t.Fatalf("%s: %v %+v", desc, err, res)
		}
		return res
	}
	reload("first")
	before := g.current.Load().routes

	writeFile(t, filepath.Join(filepath.Dir(path), "b.yaml"),
		"routes:\n  - { name: b, match: { path: /b }, respond: { body: B } }\n")
	res := reload("b changed")
	if len(res.Changed) != 1 || !slices.Equal(res.Changed["b"], []string{"respond"}) || res.Unchanged != 2 {
		t.Errorf("b changed: changed %v, %d unchanged", res.Changed, res.Unchanged)
	}
	if got := string(g.do(t, "GET", "/b", nil, "").Body()); got != "B" {
		t.Errorf("/b answers %q, want B", got)
	}
	after := g.current.Load().routes
	if after[0] != before[0] || after[2] != before[2] || after[1] == before[1] {
		t.Error("the routes of a and c were not carried over, or b's was")
	}

	writeFile(t, path, main+"trusted_proxies: [10.0.0.0/8]\n")
	res = reload("main changed")
	if len(res.Changed) != 3 || res.Unchanged != 0 {
		t.Errorf("trusted_proxies changed: changed %v, %d unchanged; want every route changed", res.Changed, res.Unchanged)
	}
}

// TestKeysSinceTakesKeptKeys: the route keys of routes a reload kept
// unchanged come from the serving configuration's keys; the others are
// worked out.
func TestKeysSinceTakesKeptKeys(t *testing.T) {
	path := keptTree(t, "include: [a.yaml, b.yaml, c.yaml]\n")
	var l config.Loader
	prev, err := l.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(filepath.Dir(path), "b.yaml"),
		"routes:\n  - { name: b, match: { path: /b }, respond: { body: B } }\n")
	next, err := l.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	marked := routeKeys{"a": "kept-a", "b": "kept-b", "c": "kept-c"}
	_, digests := next.Digests()
	keys := keysSince(next, digests, prev, marked)
	if keys["a"] != "kept-a" || keys["c"] != "kept-c" {
		t.Errorf("unchanged routes: keys %q and %q, want those kept", keys["a"], keys["c"])
	}
	if want := routeKey(&next.Routes[1], next, digests[1]); keys["b"] != want {
		t.Errorf("changed route: key %q, want %q", keys["b"], want)
	}
	if full := keysOf(next); full["a"] == "kept-a" {
		t.Error("keysOf took a key it was not given")
	}
}

// TestApplyTakesCheckedTable: applying the configuration whose route
// conflicts the gateway just checked takes the table the check compiled;
// a configuration with other routes (a copy of them) is compiled anew.
func TestApplyTakesCheckedTable(t *testing.T) {
	path := keptTree(t, "include: [a.yaml, b.yaml, c.yaml]\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g := serveConfig(t, cfg)
	next, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if errs := g.RouteConflicts(next); len(errs) != 0 {
		t.Fatal(errs)
	}
	checked := g.deps.checked.Load().table
	if _, err := g.Apply(next); err != nil {
		t.Fatal(err)
	}
	if g.current.Load().table != checked {
		t.Error("the build compiled the routes the check had compiled")
	}
	if got := string(g.do(t, "GET", "/b", nil, "").Body()); got != "b" {
		t.Errorf("/b answers %q", got)
	}

	if errs := g.RouteConflicts(next); len(errs) != 0 {
		t.Fatal(errs)
	}
	checked = g.deps.checked.Load().table
	copied := *next
	copied.Routes = slices.Clone(next.Routes)
	if _, err := g.Apply(&copied); err != nil {
		t.Fatal(err)
	}
	if g.current.Load().table == checked {
		t.Error("the build took a table checked for other routes")
	}
}
