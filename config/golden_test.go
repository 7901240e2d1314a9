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
)

var update = flag.Bool("update", false, "rewrite the expected files of testdata/*.txtar")

// TestGolden parses the config.yaml of every testdata/*.txtar and compares
// the outcome with want.yaml (the Redacted output) or errors.txt (the error
// lines). An optional "env" file holds NAME=value lines, the environment
// the config sees.
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
			input, ok := a.get("config.yaml")
			if !ok {
				t.Fatal("no config.yaml in archive")
			}
			envData, _ := a.get("env")
			name, got := runGolden(t, input, envLookup(t, envData))
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

// runGolden parses input and returns the name of the expected file that
// applies and the actual content.
func runGolden(t *testing.T, input []byte, lookup lookupFunc) (string, []byte) {
	t.Helper()
	c, err := parse(input, "config.yaml", lookup)
	if err != nil {
		return "errors.txt", []byte(err.Error() + "\n")
	}
	before := snapshot(t, c)
	out, err := c.Redacted()
	if err != nil {
		t.Fatalf("Redacted: %v", err)
	}
	if after := snapshot(t, c); after != before {
		t.Errorf("Redacted changed the config:\nbefore %s\nafter  %s", before, after)
	}
	return "want.yaml", out
}

// envLookup reads NAME=value lines into a lookup function.
func envLookup(t *testing.T, data []byte) lookupFunc {
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
	return fmt.Sprint(string(exported), c.file, c.pos, c.secrets)
}
