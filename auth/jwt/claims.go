package jwt

import (
	"encoding/json"
	"strconv"
	"strings"
)

// lookup returns the claim name: a top-level claim of that name, else,
// for a dotted name, the value at that path through nested objects
// ("realm_access.roles"), else nil.
func lookup(claims map[string]any, name string) any {
	if v, ok := claims[name]; ok {
		return v
	}
	var cur any = claims
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// holds reports whether claim v satisfies rule r.
func holds(v any, r ClaimRule) bool {
	vals := values(v)
	if len(vals) == 0 {
		return false
	}
	has := func(want string) bool {
		for _, x := range vals {
			if x == want {
				return true
			}
		}
		return false
	}
	for _, want := range r.AllOf {
		if !has(want) {
			return false
		}
	}
	if len(r.AnyOf) == 0 {
		return true
	}
	for _, want := range r.AnyOf {
		if has(want) {
			return true
		}
	}
	return false
}

// values lists what a claim holds: a string and its space-separated
// words, each element of an array (scalars only), or a scalar's text.
func values(v any) []string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		return append([]string{x}, strings.Fields(x)...)
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := scalar(e); ok {
				out = append(out, s)
			}
		}
		return out
	}
	if s, ok := scalar(v); ok {
		return []string{s}
	}
	return nil
}

func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// maxHeaderValue bounds a claim sent upstream as a header.
const maxHeaderValue = 4 << 10

// headerValue renders a claim for an upstream header: a scalar as its
// text, an array of scalars joined by commas, anything else as JSON. A
// value with control characters or longer than maxHeaderValue gives ""
// (it cannot be sent safely).
func headerValue(v any) string {
	if v == nil {
		return ""
	}
	var s string
	switch x := v.(type) {
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			p, ok := scalar(e)
			if !ok {
				return jsonText(v)
			}
			parts = append(parts, p)
		}
		s = strings.Join(parts, ",")
	default:
		var ok bool
		if s, ok = scalar(v); !ok {
			s = jsonText(v)
		}
	}
	if len(s) > maxHeaderValue {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return ""
		}
	}
	return s
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}
