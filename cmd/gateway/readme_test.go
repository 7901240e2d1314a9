package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readmeFixtures are the files the README's configuration examples name,
// with the repository's file that stands in for each.
var readmeFixtures = map[string]string{
	// the descriptor set of bin/demo-grpc's schema (test.v1.Users)
	"users.pb": "../../bridge/grpcbridge/grpctest/testdata/users.pb",
	// a bearer token for the admin listener's example
	"admin-token": "testdata/admin-token",
}

// TestReadmeConfigsValidate: every yaml block of the README is a whole
// configuration that `gateway validate` accepts, so that an example cannot
// drift from the schema. (configs/*.yaml: TestExampleConfigsValidate.)
func TestReadmeConfigsValidate(t *testing.T) {
	b, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(string(b), "yaml")
	if len(blocks) < 2 {
		t.Fatalf("README has %d yaml blocks, want at least 2", len(blocks))
	}
	for _, blk := range blocks {
		t.Run("README:"+strconv.Itoa(blk.line), func(t *testing.T) {
			dir := t.TempDir()
			for name, src := range readmeFixtures {
				data, err := os.ReadFile(src)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			file := filepath.Join(dir, "gateway.yaml")
			if err := os.WriteFile(file, []byte(blk.text), 0o644); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			if code := runMain([]string{"validate", file}, &out, &errOut); code != 0 {
				t.Errorf("README line %d: gateway validate exits %d:\n%s\n%s", blk.line, code, errOut.String(), blk.text)
			}
		})
	}
}

// readmeBlock is a fenced code block and the README line it starts on.
type readmeBlock struct {
	line int
	text string
}

// readmeBlocks returns the README's fenced blocks of the language lang.
func readmeBlocks(readme, lang string) []readmeBlock {
	var out []readmeBlock
	var cur *readmeBlock
	for i, l := range strings.Split(readme, "\n") {
		switch {
		case cur == nil && l == "```"+lang:
			cur = &readmeBlock{line: i + 2}
		case cur != nil && l == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += l + "\n"
		}
	}
	return out
}
