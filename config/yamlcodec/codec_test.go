package yamlcodec

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"go.yaml.in/yaml/v3"
)

// A toy schema, to show that the codec knows no gateway.

type shop struct {
	Name    string            `yaml:"name" reload:"restart"`
	Open    time.Duration     `yaml:"open" range:"1h,24h,zero"`
	Staff   int               `yaml:"staff" range:"1,50,zero"`
	Owner   *person           `yaml:"owner"`
	Shelves []shelf           `yaml:"shelves"`
	Notes   map[string]string `yaml:"notes"`
	Heat    Celsius           `yaml:"heat" range:"15C,25C,zero"`
	Till    till              `yaml:"till"`
	Extra   []string          `yaml:"extra"`
	Tree    []node            `yaml:"tree"`
}

// node nests as deep as a file writes it.
type node struct {
	Kids []node `yaml:"kids"`
}

type person struct {
	Name     string `yaml:"name"`
	Password string `yaml:"password" redact:"secret"`
	Site     string `yaml:"site" redact:"url"`
}

type shelf struct {
	Label string  `yaml:"label"`
	Load  float64 `yaml:"load" range:"0,1"`
}

type till struct {
	Float int  `yaml:"float"`
	Open  bool `yaml:"open" reload:"restart"`
}

// Celsius is written "21C".
type Celsius int

var celsius = Type{
	Of: reflect.TypeFor[Celsius](),
	Decode: func(d *Decoder, n *yaml.Node, v reflect.Value, path string) bool {
		s, fromEnv, ok := d.Typed(n, path, "a temperature like 21C", "!!str")
		if !ok {
			return true
		}
		c, err := parseCelsius(s)
		if err != nil {
			d.BadValue(n, path, "a temperature like 21C", fromEnv)
			return true
		}
		v.SetInt(c)
		return true
	},
	Encode:      func(v reflect.Value) *yaml.Node { return Scalar("!!str", strconv.FormatInt(v.Int(), 10)+"C") },
	ParseBound:  parseCelsius,
	FormatBound: func(n int64) string { return strconv.FormatInt(n, 10) + "C" },
}

func parseCelsius(s string) (int64, error) {
	num, ok := strings.CutSuffix(s, "C")
	if !ok {
		return 0, errors.New("no C")
	}
	return strconv.ParseInt(num, 10, 64)
}

var toy = New(celsius)

// decodeShop decodes src as a shop from the file "shop.yaml" and checks
// what it found as the gateway's config does.
func decodeShop(t *testing.T, src string, env map[string]string) (*shop, *Decoder, Errors) {
	t.Helper()
	root, ferr := ReadDocument([]byte(src), "shop.yaml", Words{Empty: "empty", SecondDocument: "second", NotMapping: "want a mapping, got "})
	if ferr != nil {
		return nil, nil, Errors{ferr}
	}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	d := toy.NewDecoder("shop.yaml", lookup, 16)
	var s shop
	d.Decode(root, reflect.ValueOf(&s).Elem(), "")
	r := &Reporter{File: "shop.yaml", Pos: d.Pos, Bad: d.Bad, Secrets: d.Secrets}
	toy.CheckRanges(r, reflect.ValueOf(&s).Elem(), "")
	return &s, d, append(d.Errs, r.Errs...).Sorted(nil)
}

func TestDecode(t *testing.T) {
	t.Parallel()
	src := `x-base: &base { label: top }
name: corner
open: 8h
owner: { name: ann, password: "${PASS}" }
shelves:
  - <<: *base
    load: 0.5
  - label: low
notes: { Hello: world, "odd key": "x" }
heat: 21C
`
	s, d, errs := decodeShop(t, src, map[string]string{"PASS": "hunter2"})
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	want := shop{
		Name: "corner", Open: 8 * time.Hour,
		Owner:   &person{Name: "ann", Password: "hunter2"},
		Shelves: []shelf{{Label: "top", Load: 0.5}, {Label: "low"}},
		Notes:   map[string]string{"Hello": "world", "odd key": "x"},
		Heat:    21,
	}
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("decoded %+v, want %+v", *s, want)
	}
	for _, tt := range []struct {
		desc string
		give string
		want Position
	}{
		{desc: "top-level field", give: "open", want: Position{"shop.yaml", 3, 7}},
		{desc: "field in a flow mapping", give: "owner.password", want: Position{"shop.yaml", 4, 31}},
		{desc: "list item", give: "shelves[1].label", want: Position{"shop.yaml", 8, 12}},
		{desc: "plain map key", give: "notes.Hello", want: Position{"shop.yaml", 9, 17}},
		{desc: "quoted map key", give: `notes["odd key"]`, want: Position{"shop.yaml", 9, 35}},
	} {
		if got, _ := d.Pos.Get(tt.give); got != tt.want {
			t.Errorf("%s: Pos[%q] = %v, want %v", tt.desc, tt.give, got, tt.want)
		}
	}
	if !d.Secrets["owner.password"] || len(d.Secrets) != 1 {
		t.Errorf("Secrets = %v, want only owner.password", d.Secrets)
	}
	if !d.Set["heat"] || d.Set["staff"] {
		t.Errorf("Set = %v: want heat and not staff", d.Set)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		give string
		want string
	}{
		{desc: "unknown field with a suggestion", give: "nmae: x\n",
			want: `shop.yaml:1:1: unknown field "nmae" (did you mean "name"?)`},
		{desc: "unknown nested field", give: "owner: { nick: x }\n",
			want: `shop.yaml:1:10: owner: unknown field "nick"`},
		{desc: "x- keys only at the top", give: "owner: { x-a: 1 }\n",
			want: `shop.yaml:1:10: owner: unknown field "x-a"`},
		{desc: "wrong type", give: "staff: many\n",
			want: `shop.yaml:1:8: staff: want an integer, got "many"`},
		{desc: "duplicate key", give: "name: a\nname: b\n",
			want: `shop.yaml:2:1: duplicate key "name" (first at line 1)`},
		{desc: "out of range", give: "open: 30m\n",
			want: `shop.yaml:1:7: open: must be 0 or between 1h and 24h, got 30m0s`},
		{desc: "zero allowed", give: "staff: 0\n", want: ""},
		{desc: "float out of range", give: "shelves: [{ load: 2 }]\n",
			want: `shop.yaml:1:19: shelves[0].load: must be between 0 and 1, got 2`},
		{desc: "a Type's value", give: "heat: hot\n",
			want: `shop.yaml:1:7: heat: want a temperature like 21C, got "hot"`},
		{desc: "a Type's range", give: "heat: 30C\n",
			want: `shop.yaml:1:7: heat: must be 0 or between 15C and 25C, got 30C`},
		{desc: "a value from the environment is not shown", give: "staff: ${N}\n",
			want: `shop.yaml:1:8: staff: the value from the environment: must be 0 or between 1 and 50`},
		{desc: "unset variable", give: "name: ${NOPE}\n",
			want: `shop.yaml:1:7: name: environment variable NOPE is not set`},
		{desc: "empty file", give: "", want: "shop.yaml: empty"},
		{desc: "not a mapping", give: "- a\n", want: "shop.yaml:1:1: want a mapping, got a list"},
		{desc: "second document", give: "name: a\n---\nname: b\n", want: "shop.yaml:3:1: second"},
		{desc: "syntax error line", give: "name: a\nowner: { name: b\nopen: 1h\n",
			want: "shop.yaml:2: invalid YAML: did not find expected ',' or '}'"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, _, errs := decodeShop(t, tt.give, map[string]string{"N": "99"})
			got := ""
			if len(errs) > 0 {
				got = errs.Error()
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestAliasBudget: aliases that multiply a small file are cut off with
// one error.
func TestAliasBudget(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("x-a: &a { kids: [] }\n")
	prev := "a"
	for i := 0; i < 12; i++ {
		name := "l" + strconv.Itoa(i)
		b.WriteString("x-" + name + ": &" + name + " { kids: [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "] }\n")
		prev = name
	}
	b.WriteString("tree: [*" + prev + "]\n")
	_, d, errs := decodeShop(t, b.String(), nil)
	if d == nil || !d.Exhausted() || !strings.Contains(errs.Error(), "document too complex") {
		t.Fatalf("exhausted = %v, errors: %v", d != nil && d.Exhausted(), errs)
	}
}

func TestInclude(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"main.yaml":       {Data: []byte("parts: [a.yaml, \"d/*.yaml\", missing.yaml, d, a.yaml]\n")},
		"a.yaml":          {Data: []byte("A")},
		"d/2.yaml":        {Data: []byte("2")},
		"d/1.yaml":        {Data: []byte("1")},
		"d/.1.yaml.swp":   {Data: []byte("swap")},
		"d/sub/x.yaml":    {Data: []byte("deeper")},
		"d/sub.yaml/keep": {Data: []byte("a directory that matches")},
	}
	src := FS(fsys)
	root, ferr := ReadDocument(fsys["main.yaml"].Data, "main.yaml", Words{})
	if ferr != nil {
		t.Fatal(ferr)
	}
	d := toy.NewDecoder("main.yaml", nil, 8)
	var parts struct {
		Parts []string `yaml:"parts"`
	}
	d.Decode(root, reflect.ValueOf(&parts).Elem(), "")
	var read []string
	inc := d.Include(src, "parts", parts.Parts, func(data []byte) {
		read = append(read, d.File()+"="+string(data))
	})
	if want := []string{"a.yaml=A", "d/1.yaml=1", "d/2.yaml=2"}; !reflect.DeepEqual(read, want) {
		t.Errorf("read %q, want %q", read, want)
	}
	if want := []string{"main.yaml", "a.yaml", "d/1.yaml", "d/2.yaml"}; !reflect.DeepEqual(inc.Names, want) {
		t.Errorf("Names = %q, want %q", inc.Names, want)
	}
	if want := []string{"a.yaml", `d/*.yaml`, "missing.yaml", "d", "a.yaml"}; !reflect.DeepEqual(inc.Patterns, want) {
		t.Errorf("Patterns = %q, want %q", inc.Patterns, want)
	}
	want := `main.yaml:1:29: parts[2]: "missing.yaml": no such file` + "\n" +
		`main.yaml:1:43: parts[3]: "d": is a directory; to include the files in it, write a glob such as "d/*.yaml"`
	if got := d.Errs.Sorted(inc.Names).Error(); got != want {
		t.Errorf("errors:\n%s\nwant\n%s", got, want)
	}
	if d.File() != "main.yaml" {
		t.Errorf("File() = %q after Include, want the main file", d.File())
	}
	if _, _, err := resolve(src, "main.yaml", "../x.yaml"); err == nil || !strings.Contains(err.Error(), "must stay inside") {
		t.Errorf("resolve outside the FS: %v", err)
	}
}

func TestEncode(t *testing.T) {
	t.Parallel()
	s := shop{
		Name:  "${not a reference}",
		Owner: &person{Name: "ann", Password: "hunter2", Site: "https://ann:pw@example.com/?key=k&x=1"},
		Notes: map[string]string{"Public": "yes", "Secret": "no"},
		Heat:  21,
		Open:  90 * time.Minute,
		Extra: []string{"kept"},
	}
	e := &Encoder{
		Secrets:   map[string]bool{"extra[0]": true},
		Omit:      map[string]bool{"till": true},
		HideValue: func(key string) bool { return key == "Secret" },
	}
	out, err := yaml.Marshal(toy.Encode(reflect.ValueOf(&s).Elem(), e))
	if err != nil {
		t.Fatal(err)
	}
	want := `name: $${not a reference}
open: 1h30m0s
staff: 0
owner:
    name: ann
    password: <redacted>
    site: https://<redacted>@example.com/?key=<redacted>&x=<redacted>
notes:
    Public: yes
    Secret: <redacted>
heat: 21C
extra: [<redacted>]
`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if !e.Hid() {
		t.Error("Hid() = false after hiding tagged fields")
	}
	plain := &Encoder{}
	toy.Encode(reflect.ValueOf(&shop{Name: "x"}).Elem(), plain)
	if plain.Hid() {
		t.Error("Hid() = true with nothing to hide")
	}
}

func TestWalkSettings(t *testing.T) {
	t.Parallel()
	a := shop{Name: "a", Staff: 1, Till: till{Float: 5, Open: true}, Extra: []string{"x"}}
	b := shop{Name: "b", Staff: 2, Till: till{Float: 5, Open: false}, Extra: []string{"y"}}
	var changed []string
	WalkSettings(reflect.ValueOf(a), reflect.ValueOf(b), []string{"extra"}, func(path string, x, y reflect.Value, restartOnly bool) {
		if !reflect.DeepEqual(x.Interface(), y.Interface()) {
			changed = append(changed, path+"="+strconv.FormatBool(restartOnly))
		}
	})
	if want := []string{"name=true", "staff=false", "till.open=true"}; !reflect.DeepEqual(changed, want) {
		t.Errorf("changed %q, want %q", changed, want)
	}
	if got := FieldAt(reflect.ValueOf(a), "till.float").Int(); got != 5 {
		t.Errorf("FieldAt(till.float) = %d, want 5", got)
	}
	if !Under("till.open", []string{"till"}) || !Under("extra[0]", []string{"extra"}) || Under("tilled", []string{"till"}) {
		t.Error("Under is wrong about a path inside, a list item or a mere prefix")
	}
}

func TestCheckTags(t *testing.T) {
	t.Parallel()
	if err := toy.CheckTags(reflect.TypeFor[shop]()); err != nil {
		t.Errorf("the toy schema's tags: %v", err)
	}
	type bad struct {
		A int           `yaml:"a" range:"1"`
		B time.Duration `yaml:"b" range:"2h,1h"`
		C Celsius       `yaml:"c" range:"1,2"`
	}
	err := toy.CheckTags(reflect.TypeFor[bad]())
	for _, want := range []string{".A: yamlcodec: malformed range tag", ".B: yamlcodec: empty range tag", ".C: yamlcodec: range tag: no C"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckTags = %v, want %q in it", err, want)
		}
	}
}
