package yamlcodec

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// A Position is where a value was written: a file, and a 1-based line and
// column in it.
type Position struct {
	File      string
	Line, Col int
}

// FieldName is the YAML key of a struct field: the name in its yaml tag.
func FieldName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// HasField reports whether the struct type t has an exported field whose
// YAML key is key.
func HasField(t reflect.Type, key string) bool { return fieldIndex(t, key) >= 0 }

// fieldIndex finds the exported field tagged `yaml:"key"`, or -1.
func fieldIndex(t reflect.Type, key string) int {
	idx, ok := fieldIndexes.Load(t)
	if !ok {
		m := make(map[string]int, t.NumField())
		for i := 0; i < t.NumField(); i++ {
			if f := t.Field(i); f.IsExported() {
				m[FieldName(f)] = i
			}
		}
		idx, _ = fieldIndexes.LoadOrStore(t, m)
	}
	if i, ok := idx.(map[string]int)[key]; ok {
		return i
	}
	return -1
}

// fieldIndexes caches, per struct type, the field index of each YAML key:
// a config of ten thousand routes looks them up a hundred thousand times.
var fieldIndexes sync.Map // reflect.Type -> map[string]int

// Suggest returns ` (did you mean "name"?)` for the one of names that key
// is probably a typo of, or "".
func Suggest(key string, names ...string) string {
	best, bestDist := "", 3
	for _, name := range names {
		if dist := editDistance(strings.ToLower(key), name); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// suggestField names a field of the struct type t that key is probably a
// typo of.
func suggestField(key string, t reflect.Type) string {
	names := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.IsExported() {
			names = append(names, FieldName(f))
		}
	}
	return Suggest(key, names...)
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return len(a) + len(b)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// JoinPath appends a struct field's key to a path: "server" and
// "read_timeout" make "server.read_timeout".
func JoinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// KeyPath appends a map key to a path: "set.Authorization", or
// `set["odd key"]` when the key is not a plain token.
func KeyPath(path, key string) string {
	if key != "" && plainKey(key) {
		return JoinPath(path, key)
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// plainKey reports whether a map key can be written after a dot in a
// path: letters, digits and the punctuation of an HTTP token (RFC 9110
// section 5.6.2) but '.' and '"'.
func plainKey(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.ContainsRune("!#$%&'*+-^_`|~", rune(c))) {
			return false
		}
	}
	return true
}

// parentPath drops the last element of a path: "a.b[2]" -> "a.b" -> "a",
// `a.set["x y"]` -> "a.set".
func parentPath(p string) string {
	if strings.HasSuffix(p, `"]`) {
		if i := strings.LastIndex(p, `["`); i >= 0 {
			return p[:i]
		}
	}
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}
