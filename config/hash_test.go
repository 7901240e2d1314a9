package config

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fastgate/gateway/config/yamlcodec"
)

func TestHash(t *testing.T) {
	t.Parallel()
	const base = `listen: ":8080"
include: [routes.d/*.yaml]
routes:
  - name: a
    match: { path: /a }
    request_headers:
      set: { Authorization: "Bearer ${TOKEN}", X-One: "1", X-Two: "2", X-Three: "3" }
    upstream: { targets: ["http://127.0.0.1:9001"], timeout: 2s }
`
	const b = "routes:\n  - { name: b, match: { path: /b }, respond: { body: hello, status: \"${STATUS}\" } }\n"
	env := map[string]string{"TOKEN": "t1", "STATUS": "200"}
	hash := func(t *testing.T, env map[string]string, files map[string]string) string {
		t.Helper()
		fsys := fstest.MapFS{}
		for name, text := range files {
			fsys[name] = &fstest.MapFile{Data: []byte(text)}
		}
		lookup := func(name string) (string, bool) {
			v, ok := env[name]
			return v, ok
		}
		c, err := parseFrom(yamlcodec.FS(fsys), []byte(files["gateway.yaml"]), "gateway.yaml", lookup, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Hash()
	}
	want := hash(t, env, map[string]string{"gateway.yaml": base, "routes.d/b.yaml": b})
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(want) {
		t.Fatalf("Hash() = %q, want 16 hex digits", want)
	}

	tests := []struct {
		desc  string
		env   map[string]string
		files map[string]string
		same  bool
	}{
		{
			desc:  "parsed again",
			files: map[string]string{"gateway.yaml": base, "routes.d/b.yaml": b},
			same:  true,
		},
		{
			desc: "formatting, comments, key order, anchors",
			files: map[string]string{
				"gateway.yaml": `# the gateway
x-up: &up
  timeout: 2s
  targets:
    - http://127.0.0.1:9001
routes:   # merged with routes.d
  - match:
      path: "/a"
    name: 'a'
    upstream: *up
    request_headers: { set: { X-Three: "3", X-Two: "2", X-One: "1", Authorization: "Bearer ${TOKEN}" } }
listen: :8080
include:
  - "routes.d/*.yaml"
`,
				"routes.d/b.yaml": "# team b\nroutes:\n- name: b\n  match: {path: /b}\n  respond:\n    status: ${STATUS}\n    body: \"hello\"\n",
			},
			same: true,
		},
		{
			desc:  "a default written out",
			files: map[string]string{"gateway.yaml": strings.Replace(base, "timeout: 2s", "timeout: 2s, max_conns: 512", 1), "routes.d/b.yaml": b},
			same:  true,
		},
		{
			desc: "a route moved to another file, same order",
			files: map[string]string{
				"gateway.yaml":    strings.Replace(base, "routes.d/*.yaml", `"*.d/*.yaml"`, 1),
				"other.d/b.yaml":  b,
				"routes.d/x.yaml": "routes: []\n",
			},
			same: true,
		},
		{
			desc:  "a route changed",
			files: map[string]string{"gateway.yaml": strings.Replace(base, "2s", "3s", 1), "routes.d/b.yaml": b},
		},
		{
			desc:  "a route in an included file changed",
			files: map[string]string{"gateway.yaml": base, "routes.d/b.yaml": strings.Replace(b, "hello", "hullo", 1)},
		},
		{
			desc:  "a route added",
			files: map[string]string{"gateway.yaml": base, "routes.d/b.yaml": b, "routes.d/c.yaml": "routes: [{ name: c, match: { path: /c }, respond: {} }]\n"},
		},
		{
			desc:  "every route in the main file",
			files: map[string]string{"gateway.yaml": strings.Replace(base, "include: [routes.d/*.yaml]", "", 1) + b[len("routes:\n"):]},
			same:  true,
		},
		{
			desc: "routes in the other order",
			files: map[string]string{
				"gateway.yaml": "listen: \":8080\"\ninclude: [main.yaml]\n" + b,
				"main.yaml":    strings.Replace(base, "listen: \":8080\"\ninclude: [routes.d/*.yaml]\n", "", 1),
			},
		},
		{
			desc:  "a secret header from the environment changed",
			env:   map[string]string{"TOKEN": "t2", "STATUS": "200"},
			files: map[string]string{"gateway.yaml": base, "routes.d/b.yaml": b},
		},
		{
			desc:  "a value from the environment changed",
			env:   map[string]string{"TOKEN": "t1", "STATUS": "201"},
			files: map[string]string{"gateway.yaml": base, "routes.d/b.yaml": b},
		},
		{
			desc:  "a sensitive header written in the file changed",
			files: map[string]string{"gateway.yaml": strings.Replace(base, "Bearer ${TOKEN}", "Bearer t2", 1), "routes.d/b.yaml": b},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e := env
			if tt.env != nil {
				e = tt.env
			}
			got := hash(t, e, tt.files)
			if tt.same && got != want {
				t.Errorf("Hash() = %s, want %s as for the base config", got, want)
			}
			if !tt.same && got == want {
				t.Errorf("Hash() = %s, the same as for the base config", got)
			}
		})
	}
}

// TestHashSecretWrittenInFile checks that "Bearer t1" written in the file
// and "Bearer ${TOKEN}" with TOKEN=t1 give the same effective config.
func TestHashSecretWrittenInFile(t *testing.T) {
	t.Parallel()
	const text = "routes: [{ name: a, match: { path: /a }, respond: { body: %s } }]\n"
	c1, err := parse([]byte(strings.Replace(text, "%s", `"${BODY}"`, 1)), "a.yaml", func(string) (string, bool) { return "x", true })
	if err != nil {
		t.Fatal(err)
	}
	c2, err := parse([]byte(strings.Replace(text, "%s", "x", 1)), "b.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Hash() != c2.Hash() {
		t.Errorf("Hash() %s != %s", c1.Hash(), c2.Hash())
	}
}

// TestDigestsInParts holds the digests of a long list, worked out in parts
// at once, to those worked out one after another.
func TestDigestsInParts(t *testing.T) {
	t.Parallel()
	routes := make([]Route, 3*partMin+5)
	for i := range routes {
		routes[i].Name = "r" + strconv.Itoa(i)
		routes[i].Match.Path = "/p/" + strconv.Itoa(i)
	}
	want := make([]RouteDigest, len(routes))
	digestInto(want, routes)
	if got := digestsOf(routes); !slices.Equal(got, want) {
		t.Error("digests differ")
	}
}
