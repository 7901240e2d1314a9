package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error line starts
// with the file name, and that an accepted config's effective YAML reads
// back as the same config.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if input, ok := parseArchive(data).get("config.yaml"); ok {
			f.Add(input)
		}
	}
	lookup := func(name string) (string, bool) {
		switch name {
		case "SET":
			return "http://127.0.0.1:1", true
		case "EMPTY":
			return "", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(data, "fuzz.yaml", lookup)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml:") {
					t.Fatalf("error line without position prefix: %q", line)
				}
			}
			return
		}
		out, err := c.Redacted()
		if err != nil {
			t.Fatalf("Redacted: %v", err)
		}
		if len(c.secrets) > 0 {
			return // "<redacted>" does not read back as the value it hides
		}
		c2, err := parse(out, "fuzz.yaml", lookup)
		if err != nil {
			t.Fatalf("effective config does not parse: %v\n%s", err, out)
		}
		out2, err := c2.Redacted()
		if err != nil {
			t.Fatalf("Redacted: %v", err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the config\n--- first:\n%s--- second:\n%s", out, out2)
		}
	})
}
