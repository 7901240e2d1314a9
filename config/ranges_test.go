package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/fastgate/gateway/config/yamlcodec"
)

// rangedField is a field with a range tag, by the key the Keys table of
// docs/config.md gives it ("routes[].upstream.timeout").
type rangedField struct {
	key  string
	text string // the range as the table writes it: "`1ms`–`1h`"
}

// rangedFields lists every field with a range tag, each at the first key
// it is reached by (Upstream is reached through routes[].upstream before
// routes[].fallback.upstream).
func rangedFields(t reflect.Type, key string, seen map[string]bool, out *[]rangedField) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice:
		rangedFields(t.Elem(), key+"[]", seen, out)
		return
	case reflect.Map:
		rangedFields(t.Elem(), key+".NAME", seen, out)
		return
	case reflect.Struct:
	default:
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		k := yamlcodec.JoinPath(key, yamlcodec.FieldName(f))
		tag, ok := f.Tag.Lookup("range")
		if !ok {
			rangedFields(f.Type, k, seen, out)
			continue
		}
		id := t.String() + "." + f.Name
		if seen[id] {
			continue
		}
		seen[id] = true
		ends := strings.Split(tag, ",") // TestRangeTags checks the syntax
		text := "`" + ends[0] + "`–`" + ends[1] + "`"
		if len(ends) == 3 {
			text = "`0` or " + text
		}
		*out = append(*out, rangedField{key: k, text: text})
	}
}

// TestREADMERanges checks that the key table of docs/config.md states the
// range of every setting that has one, in the row of its key (or of the
// key's parent, for list items such as targets[].weight).
func TestREADMERanges(t *testing.T) {
	readme, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // key -> table row
	for _, line := range strings.Split(string(readme), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, " | ")
		first := ""
		for _, k := range strings.Split(strings.TrimPrefix(cells[0], "| "), " / ") {
			k = strings.Trim(strings.TrimSpace(k), "`")
			if strings.HasPrefix(k, ".") && first != "" {
				k = first[:strings.LastIndexByte(first, '.')] + k
			}
			if first == "" {
				first = k
			}
			rows[k] = line
		}
	}
	var fields []rangedField
	rangedFields(reflect.TypeFor[Config](), "", map[string]bool{}, &fields)
	if len(fields) < 40 {
		t.Fatalf("found %d ranged settings, want at least 40", len(fields))
	}
	for _, f := range fields {
		row, ok := rows[f.key]
		for k := f.key; !ok && strings.Contains(k, "[]."); {
			k = k[:strings.LastIndex(k, "[].")]
			row, ok = rows[k]
		}
		switch {
		case !ok:
			t.Errorf("%s: no row in the key table of docs/config.md", f.key)
		case !strings.Contains(row, f.text):
			t.Errorf("%s: the row of docs/config.md does not state the range %s:\n%s", f.key, f.text, row)
		}
	}
}

// TestRangeTags parses every range tag of the schema, so that a malformed
// one fails here instead of at a load.
func TestRangeTags(t *testing.T) {
	if err := codec.CheckTags(reflect.TypeFor[Config]()); err != nil {
		t.Error(err)
	}
}
