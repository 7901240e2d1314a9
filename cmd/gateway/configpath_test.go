package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunNamesConfigFile: `gateway run` says which file it reads, by its
// absolute path, and without -config, when the default relative path
// names no file, says so and names the flag.
func TestRunNamesConfigFile(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if err := os.WriteFile("bad.yaml", []byte("routes: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		desc string
		give []string
		want []string
	}{
		{desc: "default missing", give: []string{"run"},
			want: []string{filepath.Join(dir, "configs", "gateway.yaml"), "-config FILE", "default"}},
		{desc: "given missing", give: []string{"run", "-config", "nope.yaml"},
			want: []string{filepath.Join(dir, "nope.yaml"), `-config "nope.yaml"`}},
		{desc: "given relative", give: []string{"run", "-config", "bad.yaml"},
			want: []string{"file=" + filepath.Join(dir, "bad.yaml"), "at least one route"}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := runMain(tt.give, &out, &errOut); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
		})
	}
}
