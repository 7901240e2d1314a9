package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const referenceFile = "../../docs/config-reference.md"

// TestReferenceUpToDate: the checked-in reference is what the generator
// writes for the config package as it is.
func TestReferenceUpToDate(t *testing.T) {
	want, err := generate("../../config")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatalf("%v; write it with: %s", err, regenerate)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/config-reference.md differs from the config types (%s); write it again with: %s (or make docs)",
			firstDifference(got, want), regenerate)
	}
}

// firstDifference names the first line where the checked-in text differs
// from the generated one.
func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ": has " + strconv.Quote(gl) + ", want " + strconv.Quote(wl)
		}
	}
	return "same lines"
}

// TestGenerate runs the generator on a small package: keys through
// pointers, lists and maps, a type reached twice, range tags, fields left
// out, value types.
func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	src := `package config

import "time"

// Config is the top.
//
// Second paragraph.
type Config struct {
	// Listen is an address.
	Listen string ` + "`yaml:\"listen\"`" + `
	Routes []*Route ` + "`yaml:\"routes\"`" + `
	Brokers map[string]Broker ` + "`yaml:\"brokers\"`" + `
	Skipped int ` + "`yaml:\"-\"`" + `
	hidden  int
}

// Route is one route.
type Route struct {
	// Timeout bounds a call;
	// a | in a comment is escaped.
	Timeout  time.Duration ` + "`yaml:\"timeout\" range:\"1ms,1h\"`" + `
	Size     Size          ` + "`yaml:\"size\" range:\"1B,1GiB,zero\"`" + `
	Upstream *Upstream     ` + "`yaml:\"upstream\"`" + `
	Fallback struct{}      ` + "`yaml:\"fallback\"`" + `
	Alt      *Upstream     ` + "`yaml:\"alt\"`" + `
}

// Upstream is where a route goes.
type Upstream struct {
	Targets []string ` + "`yaml:\"targets\"`" + ` // Targets are URLs.
}

// Broker is a broker.
type Broker struct {
	URL string ` + "`yaml:\"url\"`" + `
}

// Size is a number of bytes.
type Size int64
`
	if err := os.WriteFile(filepath.Join(dir, "types.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x_test.go"), []byte("package config\n\ntype NotMe struct{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{
		"## Top level (`Config`)\n\nConfig is the top.\n\nSecond paragraph.\n\n| key |",
		"| `listen` | `string` | — | Listen is an address. |\n",
		"| `routes` | `[]*Route` | — |  |\n",
		"## `routes[]` (`Route`)\n",
		"| `routes[].timeout` | `time.Duration` | `1ms`–`1h` | Timeout bounds a call; a \\| in a comment is escaped. |\n",
		"| `routes[].size` | `Size` | `0` or `1B`–`1GiB` |",
		"## `routes[].upstream` (`Upstream`)\n\nAlso at `routes[].alt`.\n\nUpstream is where a route goes.\n",
		"| `routes[].upstream.targets` | `[]string` | — | Targets are URLs. |\n",
		"## `brokers.NAME` (`Broker`)\n",
		"| `brokers.NAME.url` | `string` | — |  |\n",
		"## Value types\n\n| type | underlying | meaning |\n| --- | --- | --- |\n| `Size` | `int64` | Size is a number of bytes. |\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the reference lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"Skipped", "hidden", "NotMe", "`-`"} {
		if strings.Contains(out, not) {
			t.Errorf("the reference shows %q:\n%s", not, out)
		}
	}
	// Sections come depth first in field order: Route and what it holds
	// before Broker.
	if r, u, br := strings.Index(out, "(`Route`)"), strings.Index(out, "(`Upstream`)"), strings.Index(out, "(`Broker`)"); !(r < u && u < br) {
		t.Errorf("sections out of order (Route %d, Upstream %d, Broker %d):\n%s", r, u, br, out)
	}
	if !strings.HasSuffix(out, " |\n") || strings.HasSuffix(out, "\n\n") {
		t.Errorf("the reference does not end with one newline:\n%q", out[len(out)-20:])
	}
}

// TestGenerateErrors: a directory without the package, or without
// Config, is an error.
func TestGenerateErrors(t *testing.T) {
	if _, err := generate(filepath.Join(t.TempDir(), "none")); err == nil || !strings.HasPrefix(err.Error(), "configdoc: ") {
		t.Errorf("missing directory: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.go"), []byte("package config\n\ntype Other struct{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := generate(dir); err == nil || !strings.Contains(err.Error(), "no type Config") {
		t.Errorf("no Config: %v", err)
	}
}
