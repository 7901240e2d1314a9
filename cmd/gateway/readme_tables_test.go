package main

import (
	"io"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fastgate/gateway/config"
)

// TestReadmeConfigKeys: the Keys table of docs/config.md lists every key of the
// configuration schema (config.Config's yaml tags) and no key the schema
// lacks. A row may document a key whose value has keys of its own as one
// (`routes[].upstream.targets`, `routes[].fallback.upstream`).
func TestReadmeConfigKeys(t *testing.T) {
	code := map[string]bool{}
	schemaKeys(reflect.TypeOf(config.Config{}), "", code)
	if len(code) < 50 {
		t.Fatalf("only %d keys found in config.Config", len(code))
	}
	b, err := os.ReadFile(configDoc)
	if err != nil {
		t.Fatal(err)
	}
	documented := readmeKeys(t, string(b))
	covers := func(doc, key string) bool {
		return key == doc || strings.HasPrefix(key, doc+".") || strings.HasPrefix(key, doc+"[].")
	}
	for key := range code {
		if !slices.ContainsFunc(documented, func(doc string) bool { return covers(doc, key) }) {
			t.Errorf("docs/config.md Keys table lacks %s", key)
		}
	}
	for _, doc := range documented {
		found := false
		for key := range code {
			found = found || covers(doc, key)
		}
		if !found {
			t.Errorf("docs/config.md Keys table lists %s, which the configuration does not have", doc)
		}
	}
}

// schemaKeys adds the keys of the struct type t, below prefix, to out:
// routes[].name for a list of structs, brokers.NAME.nats.url for a map.
func schemaKeys(t reflect.Type, prefix string, out map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		key := prefix + name
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		elem := func() reflect.Type {
			e := ft.Elem()
			for e.Kind() == reflect.Pointer {
				e = e.Elem()
			}
			return e
		}
		switch {
		case ft.Kind() == reflect.Struct:
			schemaKeys(ft, key+".", out)
		case ft.Kind() == reflect.Slice && elem().Kind() == reflect.Struct:
			schemaKeys(elem(), key+"[].", out)
		case ft.Kind() == reflect.Map && elem().Kind() == reflect.Struct:
			schemaKeys(elem(), key+".NAME.", out)
		default:
			out[key] = true
		}
	}
}

// readmeKeys returns the keys the first column of the Keys table of
// docs/config.md names: `a.b.c` / `.d` (+ `.e`) names a.b.c, a.b.d and a.b.e.
func readmeKeys(t *testing.T, readme string) []string {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Keys\n")
	if !ok {
		t.Fatal("docs/config.md has no Keys section")
	}
	section, _, _ = strings.Cut(section, "\n#")
	tick := regexp.MustCompile("`([^`]+)`")
	var keys []string
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		var first string
		for _, m := range tick.FindAllStringSubmatch(cells[1], -1) {
			k := m[1]
			if rest, ok := strings.CutPrefix(k, "."); ok && first != "" {
				k = first[:strings.LastIndex(first, ".")+1] + rest
			} else {
				first = k
			}
			keys = append(keys, k)
		}
	}
	if len(keys) < 50 {
		t.Fatalf("docs/config.md Keys table lists only %d keys", len(keys))
	}
	return keys
}

// TestReadmeAdminEndpoints: every endpoint of the Admin listener table of
// docs/observability.md is served by the admin handler, with its method.
func TestReadmeAdminEndpoints(t *testing.T) {
	gw := startBridgeGateway(t, `
routes:
  - name: hello
    match: { path: /hello }
    respond: { body: "hi" }
`, nil)
	b, err := os.ReadFile(observabilityDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Admin listener\n")
	if !ok {
		t.Fatal("docs/observability.md has no Admin listener section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("^\\| `(GET|POST) (/[^` ]*)` \\|")
	n := 0
	for _, line := range strings.Split(section, "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		path := strings.TrimSuffix(m[2], "...")
		if m[1] == "POST" {
			path += "?dry_run=true"
		}
		req, err := http.NewRequest(m[1], gw.admin.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusMethodNotAllowed || string(body) == "404 page not found\n" {
			t.Errorf("docs/observability.md Admin listener table: %s %s answers %d %q", m[1], m[2], resp.StatusCode, body)
		}
	}
	if n < 7 {
		t.Errorf("docs/observability.md Admin listener table: %d endpoints found, want at least 7", n)
	}
}
