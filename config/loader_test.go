package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fastgate/gateway/config/yamlcodec"
)

// loaderTree is a main file that includes routes.d/*.yaml, and three
// included files of two routes each.
func loaderTree(t *testing.T) (dir, main string) {
	t.Helper()
	dir = t.TempDir()
	writeTree(t, dir, map[string]string{
		"gateway.yaml": "server: { max_body_size: 1MiB }\ninclude: [\"routes.d/*.yaml\"]\n",
		"routes.d/a.yaml": `routes:
  - { name: a1, match: { path: /a1 }, respond: { body: a1 } }
  - { name: a2, match: { path: /a2 }, respond: { body: a2 } }
`,
		"routes.d/b.yaml": `routes:
  - { name: b1, match: { path: /b1 }, respond: { body: "${B_BODY}" } }
  - { name: b2, match: { path: /b2 }, respond: { body: b2 } }
`,
		"routes.d/c.yaml": `routes:
  - { name: c1, match: { path: /c1 }, respond: { body: c1 } }
  - { name: c2, match: { path: /c2 }, respond: { body: c2 } }
`,
	})
	return dir, filepath.Join(dir, "gateway.yaml")
}

// bodies lists each route's name and body, in order.
func bodies(c *Config) string {
	var b strings.Builder
	for _, r := range c.Routes {
		b.WriteString(r.Name + "=" + r.Respond.Body + "/" + formatSize(r.MaxBodySize) + " ")
	}
	return strings.TrimSpace(b.String())
}

// kept names the routes of next that the Loader kept from prev.
func kept(next, prev *Config) string {
	var out []string
	for i, j := range next.UnchangedRoutes(prev) {
		if j >= 0 {
			if prev.Routes[j].Name != next.Routes[i].Name {
				return "mismatch at " + next.Routes[i].Name
			}
			out = append(out, next.Routes[i].Name)
		}
	}
	return strings.Join(out, ",")
}

// TestLoaderReadsOnlyWhatChanged: a Loader reads again only the included
// files that changed, and never serves a result that no longer holds: a
// changed file, a changed variable the file refers to, a renamed or
// deleted file, a file changed back, a changed main file.
func TestLoaderReadsOnlyWhatChanged(t *testing.T) {
	env := map[string]string{"B_BODY": "b1"}
	var mu sync.Mutex
	lookup := func(name string) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		v, ok := env[name]
		return v, ok
	}
	dir, main := loaderTree(t)
	var l Loader
	prev, err := l.load(main, lookup)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		t.Helper()
		writeTree(t, dir, map[string]string{name: text})
	}
	tests := []struct {
		desc       string
		change     func()
		wantKept   string
		wantBodies string
	}{
		{
			desc:       "nothing changed",
			change:     func() {},
			wantKept:   "a1,a2,b1,b2,c1,c2",
			wantBodies: "a1=a1/1MiB a2=a2/1MiB b1=b1/1MiB b2=b2/1MiB c1=c1/1MiB c2=c2/1MiB",
		},
		{
			desc: "a file changed",
			change: func() {
				write("routes.d/a.yaml", "routes:\n  - { name: a1, match: { path: /a1 }, respond: { body: A1 } }\n")
			},
			wantKept:   "b1,b2,c1,c2",
			wantBodies: "a1=A1/1MiB b1=b1/1MiB b2=b2/1MiB c1=c1/1MiB c2=c2/1MiB",
		},
		{
			desc:       "a variable a file refers to changed",
			change:     func() { mu.Lock(); env["B_BODY"] = "B1"; mu.Unlock() },
			wantKept:   "a1,c1,c2",
			wantBodies: "a1=A1/1MiB b1=B1/1MiB b2=b2/1MiB c1=c1/1MiB c2=c2/1MiB",
		},
		{
			desc: "a variable no file refers to changed",
			change: func() {
				mu.Lock()
				env["OTHER"] = "x"
				mu.Unlock()
			},
			wantKept:   "a1,b1,b2,c1,c2",
			wantBodies: "a1=A1/1MiB b1=B1/1MiB b2=b2/1MiB c1=c1/1MiB c2=c2/1MiB",
		},
		{
			desc: "a file renamed",
			change: func() {
				if err := os.Rename(filepath.Join(dir, "routes.d/c.yaml"), filepath.Join(dir, "routes.d/0.yaml")); err != nil {
					t.Fatal(err)
				}
			},
			wantKept:   "a1,b1,b2",
			wantBodies: "c1=c1/1MiB c2=c2/1MiB a1=A1/1MiB b1=B1/1MiB b2=b2/1MiB",
		},
		{
			desc: "a file deleted",
			change: func() {
				if err := os.Remove(filepath.Join(dir, "routes.d/0.yaml")); err != nil {
					t.Fatal(err)
				}
			},
			wantKept:   "a1,b1,b2",
			wantBodies: "a1=A1/1MiB b1=B1/1MiB b2=b2/1MiB",
		},
		{
			desc: "a file changed back",
			change: func() {
				write("routes.d/a.yaml", "routes:\n  - { name: a1, match: { path: /a1 }, respond: { body: a1 } }\n  - { name: a2, match: { path: /a2 }, respond: { body: a2 } }\n")
			},
			wantKept:   "b1,b2",
			wantBodies: "a1=a1/1MiB a2=a2/1MiB b1=B1/1MiB b2=b2/1MiB",
		},
		{
			desc: "the main file changed (the routes' default body size)",
			change: func() {
				write("gateway.yaml", "server: { max_body_size: 2MiB }\ninclude: [\"routes.d/*.yaml\"]\n")
			},
			wantKept:   "",
			wantBodies: "a1=a1/2MiB a2=a2/2MiB b1=B1/2MiB b2=b2/2MiB",
		},
	}
	for _, tt := range tests {
		tt.change()
		next, err := l.load(main, lookup)
		if err != nil {
			t.Fatalf("%s: %v", tt.desc, err)
		}
		if got := kept(next, prev); got != tt.wantKept {
			t.Errorf("%s: kept %q, want %q", tt.desc, got, tt.wantKept)
		}
		if got := bodies(next); got != tt.wantBodies {
			t.Errorf("%s: routes %q, want %q", tt.desc, got, tt.wantBodies)
		}
		fresh, err := load(yamlcodec.OS(), main, lookup)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.Hash() != next.Hash() || bodies(fresh) != bodies(next) {
			t.Errorf("%s: the Loader's configuration differs from Load's", tt.desc)
		}
		prev = next
	}
}

// TestLoaderErrors: a problem in a changed file is reported at its file,
// line and field, and one that relates it to a file the Loader kept
// names where the kept file wrote its part; once fixed, the
// configuration loads, and the Loader holds only the files of the last
// good load and of the attempt after it.
func TestLoaderErrors(t *testing.T) {
	dir, main := loaderTree(t)
	var l Loader
	lookup := func(string) (string, bool) { return "b1", true }
	if _, err := l.load(main, lookup); err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{"routes.d/c.yaml": `routes:
  - { name: c1, match: { path: /c1 }, respond: { body: c1 } }
  - name: a1
    match: { path: /c2 }
    respond: { status: 99 }
`})
	_, err := l.load(main, lookup)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want Errors", err)
	}
	got := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
	want := "routes.d/c.yaml:3:11: routes[1].name: \"a1\": already the name of routes[0] (routes.d/a.yaml:2)\n" +
		"routes.d/c.yaml:5:24: routes[1].respond.status: 99: must be an HTTP status 100-599"
	if got != want {
		t.Errorf("errors:\n%s\nwant:\n%s", got, want)
	}
	if _, ferr := load(yamlcodec.OS(), main, lookup); ferr == nil || ferr.Error() != err.Error() {
		t.Errorf("Load finds\n%v\nthe Loader\n%v", ferr, err)
	}
	if n, m := len(l.kept.good), len(l.kept.tried); n != 3 || m != 3 {
		t.Errorf("kept %d files of the good load and %d of the attempt, want 3 and 3", n, m)
	}
	writeTree(t, dir, map[string]string{"routes.d/c.yaml": "routes:\n  - { name: c1, match: { path: /c1 }, respond: { body: c1 } }\n"})
	c, err := l.load(main, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := bodies(c); got != "a1=a1/1MiB a2=a2/1MiB b1=b1/1MiB b2=b2/1MiB c1=c1/1MiB" {
		t.Errorf("routes %q", got)
	}
	if n, m := len(l.kept.good), len(l.kept.tried); n != 3 || m != 0 {
		t.Errorf("kept %d files of the good load and %d of the attempt, want 3 and 0", n, m)
	}
}

// TestLoaderRereadsFilesTheChecksRead: a route whose checks read another
// file (a body_file) is read again at every load, so that a new content
// of that file is seen.
func TestLoaderRereadsFilesTheChecksRead(t *testing.T) {
	dir, main := loaderTree(t)
	writeTree(t, dir, map[string]string{
		"routes.d/d.yaml": "routes:\n  - { name: d1, match: { path: /d1 }, respond: { body_file: d1.txt } }\n",
		"d1.txt":          "one",
	})
	var l Loader
	lookup := func(string) (string, bool) { return "b1", true }
	prev, err := l.load(main, lookup)
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{"d1.txt": "two"})
	next, err := l.load(main, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(next.Routes[6].Respond.Content()); got != "two" {
		t.Errorf("body %q, want two", got)
	}
	if got := kept(next, prev); got != "a1,a2,b1,b2,c1,c2" {
		t.Errorf("kept %q", got)
	}
}

// TestLoaderSharesSafely: configurations that share kept files are
// read (hashed, redacted) while the Loader loads the next one.
func TestLoaderSharesSafely(t *testing.T) {
	_, main := loaderTree(t)
	var l Loader
	lookup := func(string) (string, bool) { return "b1", true }
	first, err := l.load(main, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := first.Hash()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c, err := l.load(main, lookup)
			if err != nil {
				t.Error(err)
				return
			}
			if c.Hash() != want || first.Hash() != want {
				t.Error("hash changed")
			}
			if _, err := c.Redacted(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
