package yamlcodec

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// shelves writes a shop of n shelves, every 97th with an unknown key and
// every 89th with a load that is not a number.
func shelves(n int, extra string) string {
	var b strings.Builder
	b.WriteString("name: big\nshelves:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - label: s%d\n", i)
		switch {
		case i%97 == 5:
			b.WriteString("    colour: red\n")
		case i%89 == 7:
			b.WriteString("    load: heavy\n")
		default:
			b.WriteString("    load: 0.5\n")
		}
	}
	b.WriteString(extra)
	return b.String()
}

// TestListInParts holds a long list decoded in parts to what decoding its
// items one by one leaves: the values, the problems in order, the
// positions and the sets of paths, the budget.
func TestListInParts(t *testing.T) {
	t.Parallel()
	root, ferr := ReadDocument([]byte(shelves(600, "")), "shop.yaml", Words{})
	if ferr != nil {
		t.Fatal(ferr)
	}
	list := root.Content[3]
	typ := reflect.TypeFor[[]shelf]()
	lookup := func(string) (string, bool) { return "", false }

	parts := toy.NewDecoder("shop.yaml", lookup, 16)
	got := parts.listInParts(list, typ, "shelves", 3)
	if !got.IsValid() {
		t.Fatal("not decoded in parts")
	}
	one := toy.NewDecoder("shop.yaml", lookup, 16)
	want := reflect.MakeSlice(typ, len(list.Content), len(list.Content))
	for i, item := range list.Content {
		one.Decode(item, want.Index(i), "shelves["+strconv.Itoa(i)+"]")
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		t.Error("decoded values differ")
	}
	if g, w := parts.Errs.Error(), one.Errs.Error(); g != w || len(parts.Errs) < 10 {
		t.Errorf("problems:\n%s\nwant (at least 10):\n%s", g, w)
	}
	for _, m := range []struct {
		desc      string
		got, want any
	}{
		{"positions", parts.Pos.all(), one.Pos.all()},
		{"set", parts.Set, one.Set},
		{"bad", parts.Bad, one.Bad},
		{"secrets", parts.Secrets, one.Secrets},
		{"budget", parts.budget, one.budget},
	} {
		if !reflect.DeepEqual(m.got, m.want) {
			t.Errorf("%s differ", m.desc)
		}
	}
}

// TestListInPartsDeclines checks the lists decoded one by one: short ones,
// and those with an alias or an environment reference.
func TestListInPartsDeclines(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		desc string
		give string
		want bool
	}{
		{desc: "long and plain", give: shelves(600, ""), want: true},
		{desc: "short", give: shelves(300, "")},
		{desc: "an alias", give: "x-a: &a { label: z }\n" + shelves(600, "  - *a\n")},
		{desc: "an environment reference", give: shelves(600, "  - label: ${LABEL}\n")},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			root, ferr := ReadDocument([]byte(tt.give), "shop.yaml", Words{})
			if ferr != nil {
				t.Fatal(ferr)
			}
			d := toy.NewDecoder("shop.yaml", func(string) (string, bool) { return "", false }, 16)
			got := d.listInParts(root.Content[len(root.Content)-1], reflect.TypeFor[[]shelf](), "shelves", 3).IsValid()
			if got != tt.want {
				t.Errorf("decoded in parts: %v, want %v", got, tt.want)
			}
		})
	}
}
