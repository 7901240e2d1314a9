package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastgate/gateway/config/yamlcodec"
)

var update = flag.Bool("update", false, "rewrite the expected files of testdata/*.txtar")

// TestGolden loads the config.yaml of every testdata/*.txtar and compares
// the outcome with want.yaml (the Redacted output) or errors.txt (the error
// lines). An optional "env" file holds NAME=value lines, the environment
// the config sees. Every other file of the archive ("routes.d/a.yaml") is
// written next to config.yaml in a temporary directory, for config.yaml to
// include; the directory's name is cut from the output.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("found %d golden files, want at least 15", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			a := parseArchive(data)
			if _, ok := a.get("config.yaml"); !ok {
				t.Fatal("no config.yaml in archive")
			}
			envData, _ := a.get("env")
			name, got := runGolden(t, a, envLookup(t, envData))
			if *update {
				a.set("want.yaml", nil)
				a.set("errors.txt", nil)
				a.set(name, got)
				if err := os.WriteFile(file, a.format(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, ok := a.get(name)
			if !ok {
				t.Fatalf("got %s but the archive has no %s (run with -update?):\n%s", name, name, got)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs\n--- got:\n%s--- want:\n%s", name, got, want)
			}
		})
	}
}

// goldenOnly are the archive files that are not part of the configuration.
var goldenOnly = map[string]bool{"env": true, "want.yaml": true, "errors.txt": true}

// runGolden writes the configuration files of a to a temporary directory,
// loads its config.yaml and returns the name of the expected file that
// applies and the actual content.
func runGolden(t *testing.T, a *archive, lookup yamlcodec.LookupFunc) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	for _, f := range a.files {
		if goldenOnly[f.name] {
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	relative := func(b []byte) []byte {
		return bytes.ReplaceAll(b, []byte(dir+string(filepath.Separator)), nil)
	}
	c, err := load(yamlcodec.OS(), filepath.Join(dir, "config.yaml"), lookup)
	// A Loader finds the same, reading every file and then again keeping
	// what it read.
	var l Loader
	for _, pass := range []string{"first", "second"} {
		lc, lerr := l.load(filepath.Join(dir, "config.yaml"), lookup)
		if fmt.Sprint(err) != fmt.Sprint(lerr) || (err == nil && lc.Hash() != c.Hash()) {
			t.Errorf("the %s load by a Loader differs from Load: %v", pass, lerr)
		}
		if err == nil {
			a, _ := c.Redacted()
			b, _ := lc.Redacted()
			if !bytes.Equal(a, b) {
				t.Errorf("the %s load by a Loader differs from Load:\n%s", pass, b)
			}
		}
	}
	if err != nil {
		return "errors.txt", relative([]byte(err.Error() + "\n"))
	}
	before := snapshot(t, c)
	out, err := c.Redacted()
	if err != nil {
		t.Fatalf("Redacted: %v", err)
	}
	if after := snapshot(t, c); after != before {
		t.Errorf("Redacted changed the config:\nbefore %s\nafter  %s", before, after)
	}
	return "want.yaml", relative(out)
}

// envLookup reads NAME=value lines into a lookup function.
func envLookup(t *testing.T, data []byte) yamlcodec.LookupFunc {
	env := make(map[string]string)
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("env line %q: want NAME=value", line)
		}
		env[k] = v
	}
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// snapshot prints everything c holds, for checking that a method did not
// change it.
func snapshot(t *testing.T, c *Config) string {
	t.Helper()
	exported, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(string(exported), c.file, c.pos, c.secrets, c.files, c.includes)
}
