package archtest

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestDesignDocListsEveryPackage: docs/design.md, the design this test
// holds the code to, names every package of the allowed map, so that a new
// package cannot join without the design saying what it holds.
func TestDesignDocListsEveryPackage(t *testing.T) {
	doc, err := os.ReadFile("../../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for pkg := range allowed {
		if !strings.Contains(string(doc), "`"+pkg+"`") {
			missing = append(missing, pkg)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("docs/design.md does not name these packages: %q", missing)
	}
}
