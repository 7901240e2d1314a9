package gateway

import (
	"fmt"
	"strings"

	"github.com/fastgate/gateway/router"
)

// pathTemplate is a string with {name} parameters taken from the request
// path, such as a publish subject "orders.{id}" on a route matching
// "/v1/orders/{id}". Immutable.
type pathTemplate struct {
	parts []templatePart
}

// templatePart is a literal, or (segment >= 0) the path segment a
// parameter stands for.
type templatePart struct {
	literal string
	segment int
}

// compileTemplate compiles s against the route's path template.
func compileTemplate(s, routePath string) (*pathTemplate, error) {
	segments := make(map[string]int)
	for i, seg := range strings.Split(strings.TrimPrefix(routePath, "/"), "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			segments[seg[1:len(seg)-1]] = i
		}
	}
	t := &pathTemplate{}
	for rest := s; rest != ""; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			t.parts = append(t.parts, templatePart{literal: rest, segment: -1})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{literal: rest[:i], segment: -1})
		}
		j := strings.IndexByte(rest, '}')
		if j < i {
			return nil, fmt.Errorf("%q: unbalanced braces", s)
		}
		seg, ok := segments[rest[i+1:j]]
		if !ok {
			return nil, fmt.Errorf("%q: %s is not a parameter of the route's path", s, rest[i:j+1])
		}
		t.parts = append(t.parts, templatePart{segment: seg})
		rest = rest[j+1:]
	}
	return t, nil
}

// expand appends t with the parameters of path (the path the route
// matched) to dst. It reports false when a parameter's value is empty or
// holds anything but letters, digits, '-', '_' and '~': a value must not
// be able to change the shape of a subject or topic ("a.>", "a b").
func (t *pathTemplate) expand(dst, path []byte) ([]byte, bool) {
	for _, p := range t.parts {
		if p.segment < 0 {
			dst = append(dst, p.literal...)
			continue
		}
		v := router.Segment(path, p.segment)
		if len(v) == 0 {
			return dst, false
		}
		for _, c := range v {
			if !isParamByte(c) {
				return dst, false
			}
		}
		dst = append(dst, v...)
	}
	return dst, true
}

// pathSegment returns the i-th segment of path (after the leading "/").

func isParamByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '~'
}
