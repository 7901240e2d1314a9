package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBodyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "busy.json"), []byte(`{"error":"busy"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc    string
		give    string
		want    string // the body, or an error substring
		wantErr bool
	}{
		{desc: "relative to the config file", give: `{ body_file: busy.json }`, want: `{"error":"busy"}`},
		{desc: "inline body still works", give: `{ body: "hi" }`, want: "hi"},
		{desc: "missing file", give: `{ body_file: nope.json }`, want: `routes[0].respond.body_file: "nope.json": cannot be read: no such file or directory`, wantErr: true},
		{desc: "a directory", give: `{ body_file: "." }`, want: "is not a regular file", wantErr: true},
		{desc: "both", give: `{ body: "x", body_file: busy.json }`, want: "set body or body_file, not both", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			path := filepath.Join(dir, "gateway.yaml")
			yaml := "routes:\n  - { name: r, match: { path: /r }, respond: " + tt.give + " }\n"
			if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "gateway.yaml:2:") {
					t.Fatalf("error %v, want one at line 2 containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := string(c.Routes[0].Respond.Content()); got != tt.want {
				t.Errorf("body %q, want %q", got, tt.want)
			}
		})
	}
}
