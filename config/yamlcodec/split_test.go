package yamlcodec

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// routeList writes n small routes at indent, as a large file would hold
// them.
func routeList(n int, indent string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s- name: r%d\n%s  match: { path: /p/%d }\n", indent, i, indent, i)
	}
	return b.String()
}

var splitCases = []struct {
	desc      string
	give      string
	wantSplit bool // parsed in pieces; otherwise as a whole
}{
	{
		desc:      "settings around the list, comments and blank lines between items",
		give:      "listen: \":80\"\nroutes: # the routes\n\n" + routeList(4, "  ") + "  # a comment\n\n" + routeList(4, "  ") + "admin:\n  listen: \":81\"\n",
		wantSplit: true,
	},
	{
		desc:      "items at the key's indentation",
		give:      "routes:\n" + routeList(8, "") + "admin: {}\n",
		wantSplit: true,
	},
	{
		desc:      "a document start, the list to the end without a last line break",
		give:      "---\nroutes:\n" + strings.TrimSuffix(routeList(8, "    "), "\n"),
		wantSplit: true,
	},
	{
		desc: "block scalars holding lines like items and comments",
		give: "routes:\n" + routeList(3, "  ") +
			"  - name: lit\n    respond:\n      body: |\n        - not an item\n        # not a comment\n\n        end\n" +
			routeList(3, "  ") + "  - |\n    - text\n" + routeList(3, "  "),
		wantSplit: true,
	},
	{
		desc:      "an anchor and its alias within one item",
		give:      "routes:\n" + routeList(4, "  ") + "  - name: &n a\n    match: { path: *n }\n" + routeList(4, "  "),
		wantSplit: true,
	},
	{
		desc:      "multi-line plain and quoted scalars inside items",
		give:      "routes:\n" + routeList(4, "  ") + "  - name: a\n      b\n      c\n    d: \"x\n     y\"\n" + routeList(4, "  "),
		wantSplit: true,
	},
	{
		desc: "a quoted scalar across a line like an item",
		give: "routes:\n" + routeList(4, "  ") + "  - name: \"a\n  - b\"\n" + routeList(4, "  "),
	},
	{
		desc: "a flow mapping across a line like an item",
		give: "routes:\n" + routeList(4, "  ") + "  - match: { a: 1,\n  - b: 2 }\n" + routeList(4, "  "),
	},
	{
		desc: "an alias to an anchor outside the list",
		give: "x-base: &base { timeout: 1s }\nroutes:\n" + routeList(4, "  ") + "  - <<: *base\n    name: m\n" + routeList(4, "  "),
	},
	{
		desc: "an alias to an anchor in an earlier item",
		give: "routes:\n  - &first\n    name: a\n" + routeList(8, "  ") + "  - *first\n",
	},
	{
		desc: "a second document after the list",
		give: "routes:\n" + routeList(8, "  ") + "---\nother: 1\n",
	},
	{
		desc: "carriage returns",
		give: strings.ReplaceAll("routes:\n"+routeList(8, "  "), "\n", "\r\n"),
	},
	{
		desc: "a tab where the list could end",
		give: "routes:\n" + routeList(8, "  ") + "\tadmin: {}\n",
	},
	{
		desc: "the key quoted",
		give: "\"routes\":\n" + routeList(8, "  "),
	},
	{
		desc: "an anchor on the key's line",
		give: "routes: &r\n" + routeList(8, "  "),
	},
	{
		desc: "a mapping under the key",
		give: "routes:\n  a: 1\n  b: 2\n",
	},
	{
		desc: "a less indented line that is not a key",
		give: "routes:\n" + routeList(8, "    ") + "  stray: 1\n",
	},
	{
		desc: "a syntax error in a piece",
		give: "routes:\n" + routeList(4, "  ") + "  - name: [\n" + routeList(4, "  "),
	},
	{
		desc: "the key inside a quoted scalar of another setting",
		give: "a: \"x\nroutes:\n" + routeList(8, "  ") + "b\"\n",
	},
}

// TestReadSplit holds the list parsed in pieces to the tree of the whole
// document, positions included, and checks that texts not plainly cut are
// left to the parse of the whole.
func TestReadSplit(t *testing.T) {
	t.Parallel()
	for _, tt := range splitCases {
		t.Run(tt.desc, func(t *testing.T) {
			got := readSplit([]byte(tt.give), "routes", 3, 0)
			if (got != nil) != tt.wantSplit {
				t.Fatalf("parsed in pieces: %v, want %v", got != nil, tt.wantSplit)
			}
			if got == nil {
				return
			}
			want, ferr := ReadDocument([]byte(tt.give), "f.yaml", Words{})
			if ferr != nil {
				t.Fatalf("parsed in pieces, but the whole fails: %v", ferr)
			}
			if err := sameTree(got, want, "root"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestReadSplitLarge checks a list just over the size from which
// ReadDocumentList cuts it.
func TestReadSplitLarge(t *testing.T) {
	t.Parallel()
	data := []byte("listen: \":80\"\nroutes:\n" + routeList(1600, "  ") + "admin: {}\n")
	if len(data) < splitMinBytes {
		t.Fatalf("test list of %d bytes is too short", len(data))
	}
	got := readSplit(data, "routes", 2, splitMinBytes)
	if got == nil {
		t.Fatal("not parsed in pieces")
	}
	want, ferr := ReadDocument(data, "f.yaml", Words{})
	if ferr != nil {
		t.Fatal(ferr)
	}
	if err := sameTree(got, want, "root"); err != nil {
		t.Fatal(err)
	}
}

// FuzzReadSplit checks that whatever is parsed in pieces is what the
// whole document parses to.
func FuzzReadSplit(f *testing.F) {
	for _, tt := range splitCases {
		f.Add(tt.give)
	}
	f.Fuzz(func(t *testing.T, give string) {
		got := readSplit([]byte(give), "routes", 3, 0)
		if got == nil {
			return
		}
		want, ferr := ReadDocument([]byte(give), "f.yaml", Words{})
		if ferr != nil {
			t.Fatalf("parsed in pieces, but the whole fails: %v", ferr)
		}
		if err := sameTree(got, want, "root"); err != nil {
			t.Fatal(err)
		}
	})
}

// sameTree compares two trees node by node, positions included and
// comments not.
func sameTree(got, want *yaml.Node, at string) error {
	if got.Kind != want.Kind || got.Style != want.Style || got.Tag != want.Tag ||
		got.Value != want.Value || got.Anchor != want.Anchor ||
		got.Line != want.Line || got.Column != want.Column {
		return fmt.Errorf("%s: got %s, want %s", at, nodeString(got), nodeString(want))
	}
	if (got.Alias == nil) != (want.Alias == nil) ||
		got.Alias != nil && (got.Alias.Line != want.Alias.Line || got.Alias.Column != want.Alias.Column) {
		return fmt.Errorf("%s: aliases differ", at)
	}
	if len(got.Content) != len(want.Content) {
		return fmt.Errorf("%s: %d nodes under it, want %d", at, len(got.Content), len(want.Content))
	}
	for i := range got.Content {
		if err := sameTree(got.Content[i], want.Content[i], fmt.Sprintf("%s/%d", at, i)); err != nil {
			return err
		}
	}
	return nil
}

func nodeString(n *yaml.Node) string {
	return fmt.Sprintf("kind %d style %d tag %q value %q anchor %q at %d:%d",
		n.Kind, n.Style, n.Tag, n.Value, n.Anchor, n.Line, n.Column)
}
