package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// readmeFixtures are the files the configuration examples of the README
// and docs/ name, with the repository's file that stands in for each.
var readmeFixtures = map[string]string{
	// the descriptor set of bin/demo-grpc's schema (test.v1.Users)
	"users.pb": "../../bridge/grpcbridge/grpctest/testdata/users.pb",
	// a bearer token for the admin listener's example
	"admin-token": "testdata/admin-token",
	// docs/tls.md: certificates, keys and CAs (the test-only pair), and
	// session ticket keys
	"api.crt":         "../../configs/testdata/tls/TEST-ONLY-localhost.crt",
	"api.key":         "../../configs/testdata/tls/TEST-ONLY-localhost.key",
	"wildcard.crt":    "../../configs/testdata/tls/TEST-ONLY-localhost.crt",
	"wildcard.key":    "../../configs/testdata/tls/TEST-ONLY-localhost.key",
	"gateway.crt":     "../../configs/testdata/tls/TEST-ONLY-localhost.crt",
	"gateway.key":     "../../configs/testdata/tls/TEST-ONLY-localhost.key",
	"clients-ca.pem":  "../../configs/testdata/tls/TEST-ONLY-ca.crt",
	"internal-ca.pem": "../../configs/testdata/tls/TEST-ONLY-ca.crt",
	"ticket-keys":     "testdata/ticket-keys",
}

// docFiles returns README.md and every page of docs/, by their path from
// the repository's root, with the path to read each from here.
func docFiles(t *testing.T) map[string]string {
	t.Helper()
	pages, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 10 {
		t.Fatalf("docs/ has %d pages, want at least 10", len(pages))
	}
	files := map[string]string{"README.md": readmeFile}
	for _, p := range pages {
		files["docs/"+filepath.Base(p)] = p
	}
	return files
}

// TestReadmeConfigsValidate: every yaml block of the README and of the
// pages of docs/ is a whole configuration that `gateway validate` accepts,
// so that an example cannot drift from the schema. (configs/*.yaml:
// TestExampleConfigsValidate.)
func TestReadmeConfigsValidate(t *testing.T) {
	total := 0
	for name, path := range docFiles(t) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		blocks := readmeBlocks(string(b), "yaml")
		total += len(blocks)
		for _, blk := range blocks {
			t.Run(name+":"+strconv.Itoa(blk.line), func(t *testing.T) {
				validateBlock(t, name, blk)
			})
		}
	}
	if total < 3 {
		t.Fatalf("README and docs/ have %d yaml blocks, want at least 3", total)
	}
}

// validateBlock runs `gateway validate` on the yaml block blk of the file
// name, beside the fixtures it may name.
func validateBlock(t *testing.T, name string, blk readmeBlock) {
	dir := t.TempDir()
	for fixture, src := range readmeFixtures {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fixture), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(file, []byte(blk.text), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := runMain([]string{"validate", file}, &out, &errOut); code != 0 {
		t.Errorf("%s line %d: gateway validate exits %d:\n%s\n%s", name, blk.line, code, errOut.String(), blk.text)
	}
}

// readmeBlock is a fenced code block and the line of its file it starts on.
type readmeBlock struct {
	line int
	text string
}

// readmeBlocks returns the fenced blocks of the language lang of a
// Markdown text.
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

// TestDocLinks: every relative link of the README and of docs/ names a
// file of the repository and, after a #, a heading of that file (its
// GitHub anchor), so that moving text between pages cannot leave a link
// behind.
func TestDocLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	n := 0
	for name, path := range docFiles(t) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			n++
			file, anchor, _ := strings.Cut(target, "#")
			dest := path
			if file != "" {
				dest = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
			}
			text, err := os.ReadFile(dest)
			if err != nil {
				t.Errorf("%s: link %s: %v", name, target, err)
				continue
			}
			if anchor != "" && !slices.Contains(headingAnchors(string(text)), anchor) {
				t.Errorf("%s: link %s: no heading with that anchor in %s", name, target, dest)
			}
		}
	}
	if n < 20 {
		t.Errorf("%d relative links found in README.md and docs/, want at least 20", n)
	}
}

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown text (outside fenced blocks): lower case, spaces as hyphens,
// punctuation other than - and _ left out.
func headingAnchors(text string) []string {
	var out []string
	fenced := false
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
		}
		if fenced || !strings.HasPrefix(l, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(l, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}
