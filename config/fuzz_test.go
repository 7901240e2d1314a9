package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fastgate/gateway/config/yamlcodec"
)

// FuzzParse checks that Parse never panics, that every error line starts
// with the file name, and that an accepted config's effective YAML reads
// back as the same config. Includes are read from an empty file system, so
// that the fuzzer cannot reach this package's files.
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
	src := yamlcodec.FS(fstest.MapFS{})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseFrom(src, data, "fuzz.yaml", lookup, nil)
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
		if len(c.secrets) > 0 || c.holdsCredentials() {
			return // "<redacted>" does not read back as the value it hides
		}
		c2, err := parseFrom(src, out, "fuzz.yaml", lookup, nil)
		if err != nil {
			t.Fatalf("effective config does not parse: %v\n%s", err, out)
		}
		if c.Hash() != c2.Hash() {
			t.Fatalf("round trip changed the hash\n--- first:\n%s", out)
		}
		out2, err := c2.Redacted()
		if err != nil {
			t.Fatalf("Redacted: %v", err)
		}
		if len(c.Include) > 0 {
			return // the first output holds a comment on the includes, merged into routes
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the config\n--- first:\n%s--- second:\n%s", out, out2)
		}
	})
}
