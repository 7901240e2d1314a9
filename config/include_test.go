package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fastgate/gateway/config/yamlcodec"
)

// writeTree writes files (slash-separated names) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const teamRoutes = `routes:
  - name: team-a
    match: { path: /a }
    upstream:
      targets: ["http://127.0.0.1:9001"]
      timeout: 2s
`

func TestIncludeFilesAndIncludes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"gw/gateway.yaml": `include:
  - routes.d/*.yaml
  - ../shared/common.yaml
  - empty.d/*.yaml
  - routes.d/b.yaml
routes:
  - { name: main, match: { path: /main }, respond: {} }
`,
		"gw/routes.d/b.yaml":  "routes:\n  - { name: team-b, match: { path: /b }, respond: {} }\n",
		"gw/routes.d/a.yaml":  teamRoutes,
		"gw/routes.d/c.yml":   "not: [read\n",
		"shared/common.yaml":  "routes: []\n",
		"gw/empty.d/.keep":    "",
		"gw/routes.d/.a.yaml": "not: [read\n",
	})
	main := filepath.Join(dir, "gw", "gateway.yaml")
	c, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	gw := filepath.Join(dir, "gw")
	wantFiles := []string{
		main,
		filepath.Join(gw, "routes.d", "a.yaml"),
		filepath.Join(gw, "routes.d", "b.yaml"),
		filepath.Join(dir, "shared", "common.yaml"),
	}
	if got := c.Files(); !slices.Equal(got, wantFiles) {
		t.Errorf("Files() = %q\nwant      %q", got, wantFiles)
	}
	wantIncludes := []string{
		filepath.Join(gw, "routes.d", "*.yaml"),
		filepath.Join(dir, "shared", "common.yaml"),
		filepath.Join(gw, "empty.d", "*.yaml"),
		filepath.Join(gw, "routes.d", "b.yaml"),
	}
	if got := c.Includes(); !slices.Equal(got, wantIncludes) {
		t.Errorf("Includes() = %q\nwant         %q", got, wantIncludes)
	}
	c.Files()[0] = "changed"
	if c.Files()[0] != main {
		t.Error("Files() returned the Config's own slice")
	}
	if c.File() != main {
		t.Errorf("File() = %q, want %q", c.File(), main)
	}

	var names []string
	for _, r := range c.Routes {
		names = append(names, r.Name)
	}
	if want := []string{"main", "team-a", "team-b"}; !slices.Equal(names, want) {
		t.Errorf("routes %q, want %q", names, want)
	}

	teamA := filepath.Join(gw, "routes.d", "a.yaml")
	positions := []struct {
		desc      string
		give      string
		file      string
		line, col int
		ok        bool
	}{
		{desc: "main file field", give: "include[1]", file: main, line: 3, col: 5, ok: true},
		{desc: "main file route", give: "routes[0].name", file: main, line: 7, col: 13, ok: true},
		{desc: "included route", give: "routes[1]", file: teamA, line: 2, col: 5, ok: true},
		{desc: "included field", give: "routes[1].upstream.timeout", file: teamA, line: 6, col: 16, ok: true},
		{desc: "second included file", give: "routes[2].match.path", file: filepath.Join(gw, "routes.d", "b.yaml"), line: 2, col: 36, ok: true},
		{desc: "defaulted field", give: "routes[1].upstream.max_conns"},
	}
	for _, tt := range positions {
		file, line, col, ok := c.PositionOf(tt.give)
		if file != tt.file || line != tt.line || col != tt.col || ok != tt.ok {
			t.Errorf("%s: PositionOf(%q) = %q, %d, %d, %v; want %q, %d, %d, %v",
				tt.desc, tt.give, file, line, col, ok, tt.file, tt.line, tt.col, tt.ok)
		}
		line, col, ok = c.Position(tt.give)
		if line != tt.line || col != tt.col || ok != tt.ok {
			t.Errorf("%s: Position(%q) = %d, %d, %v; want %d, %d, %v",
				tt.desc, tt.give, line, col, ok, tt.line, tt.col, tt.ok)
		}
	}
}

// TestIncludeErrorPositions checks FieldError.File, Line and Col of problems
// in each file, and that they come main file first.
func TestIncludeErrorPositions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"gateway.yaml": `include: [routes.d/*.yaml, missing.yaml]
routes:
  - { name: dup, match: { path: /main }, respond: {} }
`,
		"routes.d/a.yaml": `routes:
  - name: dup
    match: { path: /a }
    respond: { status: 1 }
`,
		"routes.d/b.yaml": "listen: :1\n",
	})
	main := filepath.Join(dir, "gateway.yaml")
	a := filepath.Join(dir, "routes.d", "a.yaml")
	_, err := Load(main)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v is not an Errors", err)
	}
	want := []FieldError{
		{File: main, Line: 1, Col: 28, Field: "include[1]",
			Msg: `"missing.yaml": no such file (looked for ` + filepath.Join(dir, "missing.yaml") + ")"},
		{File: a, Line: 2, Col: 11, Field: "routes[0].name",
			Msg: `"dup": already the name of routes[0] (` + main + ":3)"},
		{File: a, Line: 4, Col: 24, Field: "routes[0].respond.status", Msg: "1: must be an HTTP status 100-599"},
		{File: filepath.Join(dir, "routes.d", "b.yaml"), Line: 1, Col: 1,
			Msg: "listen is a setting of the main file (" + main + "); an included file holds only routes"},
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(want), err)
	}
	for i := range want {
		if *errs[i] != want[i] {
			t.Errorf("problem %d:\n got %+v\nwant %+v", i, *errs[i], want[i])
		}
	}
}

// TestParseIncludesFromDisk checks that Parse reads includes relative to
// the directory of the file name it is given.
func TestParseIncludesFromDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"team.yaml": teamRoutes, "abs/b.yaml": "routes: [{ name: b, match: { path: /b }, respond: {} }]\n"})
	abs := filepath.Join(dir, "abs", "b.yaml")
	data := []byte("include: [team.yaml, " + strconv.Quote(abs) + "]\nroutes: [{ name: main, match: { path: /main }, respond: {} }]\n")
	c, err := Parse(data, filepath.Join(dir, "not-on-disk.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 3 || c.Routes[1].Name != "team-a" || c.Routes[2].Name != "b" {
		t.Fatalf("routes %+v, want main, team-a and b", c.Routes)
	}
	if got := c.Files(); len(got) != 3 || got[1] != filepath.Join(dir, "team.yaml") || got[2] != abs {
		t.Errorf("Files() = %q", got)
	}
}

// TestIncludeGlobInOddDirectory checks that glob characters in the main
// file's directory name are taken literally.
func TestIncludeGlobInOddDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "env[prod]*")
	writeTree(t, dir, map[string]string{
		"gateway.yaml":    "include: [routes.d/*.yaml]\n",
		"routes.d/a.yaml": teamRoutes,
	})
	c, err := Load(filepath.Join(dir, "gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 1 {
		t.Fatalf("got %d routes, want the one of routes.d/a.yaml", len(c.Routes))
	}
	if got, want := c.Files(), []string{filepath.Join(dir, "gateway.yaml"), filepath.Join(dir, "routes.d", "a.yaml")}; !slices.Equal(got, want) {
		t.Errorf("Files() = %q, want %q", got, want)
	}
	if got, want := c.Includes(), []string{filepath.Join(dir, "routes.d", "*.yaml")}; !slices.Equal(got, want) {
		t.Errorf("Includes() = %q, want %q", got, want)
	}
}

func TestLoadFS(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"etc/gw/gateway.yaml":    {Data: []byte("include: [routes.d/*.yaml, ../common.yaml]\n")},
		"etc/gw/routes.d/a.yaml": {Data: []byte(teamRoutes)},
		"etc/common.yaml":        {Data: []byte("routes:\n  - { name: common, match: { path: /c }, respond: {} }\n")},
		"etc/gw/escape.yaml":     {Data: []byte("include: [../../../x.yaml, /etc/common.yaml]\nroutes: [{ name: m, match: { path: /m }, respond: {} }]\n")},
		"etc/gw/routes.d/b.yaml": {Mode: 0o755 | os.ModeDir},
	}
	c, err := LoadFS(fsys, "etc/gw/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"etc/gw/gateway.yaml", "etc/gw/routes.d/a.yaml", "etc/common.yaml"}; !slices.Equal(c.Files(), want) {
		t.Errorf("Files() = %q, want %q", c.Files(), want)
	}
	if want := []string{"etc/gw/routes.d/*.yaml", "etc/common.yaml"}; !slices.Equal(c.Includes(), want) {
		t.Errorf("Includes() = %q, want %q", c.Includes(), want)
	}
	if file, line, _, ok := c.PositionOf("routes[1].name"); !ok || file != "etc/common.yaml" || line != 2 {
		t.Errorf("PositionOf(routes[1].name) = %q, %d, %v", file, line, ok)
	}
	for give, want := range map[string]string{
		"routes[1].name":             "routes[0].name",
		"routes[1].upstream.timeout": "routes[0].upstream.timeout", // not written
		"routes[0].name":             "routes[0].name",
		"listen":                     "listen",
	} {
		if got := c.LocalField(give); got != want {
			t.Errorf("LocalField(%s) = %s, want %s", give, got, want)
		}
	}
	if got, want := c.RouteRef(1, 0), "routes[0] (common, in etc/common.yaml)"; got != want {
		t.Errorf("RouteRef(1, 0) = %q, want %q", got, want)
	}

	_, err = LoadFS(fsys, "etc/gw/escape.yaml")
	want := `etc/gw/escape.yaml:1:11: include[0]: "../../../x.yaml": must stay inside the file system the configuration is read from ("..", past its root)
etc/gw/escape.yaml:1:28: include[1]: "/etc/common.yaml": must be relative: the configuration is read from a file system whose paths do not start with "/"`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// TestIncludeUnreadable checks that a matched file that cannot be read is
// reported at the include entry that matched it. The file is a symlink to
// itself: unreadable for root too, who reads files whatever their mode.
func TestIncludeUnreadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"gateway.yaml": "include: [routes.d/*.yaml]\n", "routes.d/b.yaml": teamRoutes})
	loop := filepath.Join(dir, "routes.d", "a.yaml")
	if err := os.Symlink("a.yaml", loop); err != nil {
		t.Fatal(err)
	}
	_, err := Load(filepath.Join(dir, "gateway.yaml"))
	if err == nil || !strings.Contains(err.Error(), `include[0]: "routes.d/*.yaml": cannot read `+loop) {
		t.Errorf("got %v", err)
	}
}

// TestRedactedMergedReadsBack checks that the effective config of a set of
// files is one file that reads back as the same configuration.
func TestRedactedMergedReadsBack(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"gateway.yaml":    {Data: []byte("include: [routes.d/*.yaml]\nroutes: [{ name: main, match: { path: /main }, respond: {} }]\n")},
		"routes.d/a.yaml": {Data: []byte(teamRoutes)},
	}
	c, err := parseFrom(yamlcodec.FS(fsys), fsys["gateway.yaml"].Data, "gateway.yaml", noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "\ninclude:") {
		t.Errorf("effective config keeps the include key:\n%s", out)
	}
	c2, err := parseFrom(yamlcodec.FS(fstest.MapFS{}), out, "out.yaml", noEnv, nil)
	if err != nil {
		t.Fatalf("effective config does not parse: %v\n%s", err, out)
	}
	if len(c2.Routes) != 2 || c2.Hash() != c.Hash() {
		t.Errorf("read back as %d routes, hash %s; want 2 routes, hash %s\n%s", len(c2.Routes), c2.Hash(), c.Hash(), out)
	}
}
