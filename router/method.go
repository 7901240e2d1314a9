package router

import (
	"errors"
	"fmt"
	"strings"
)

// Methods are bits in a uint64 mask. The well-known methods have fixed
// bits; other names used by a table's rules get the next free bits at
// Compile time. A request method that no rule names gets otherBit, which
// only the "any method" mask contains.
const (
	otherBit = uint64(1) << 63
	anyMask  = ^uint64(0)
	// maxMethods is how many distinct method names one table may use.
	maxMethods = 63
)

// wellKnown lists the methods with fixed bits, bit i for wellKnown[i];
// methodSet.bit must agree with it.
var wellKnown = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// methodSet maps method names to bits for one table.
type methodSet struct {
	custom map[string]uint64 // names beyond wellKnown
	extra  []string          // custom names by bit, from bit len(wellKnown)
}

// bit returns the request method's bit. It does not allocate.
func (s *methodSet) bit(m []byte) uint64 {
	switch string(m) {
	case "GET":
		return 1 << 0
	case "HEAD":
		return 1 << 1
	case "POST":
		return 1 << 2
	case "PUT":
		return 1 << 3
	case "PATCH":
		return 1 << 4
	case "DELETE":
		return 1 << 5
	case "OPTIONS":
		return 1 << 6
	case "CONNECT":
		return 1 << 7
	case "TRACE":
		return 1 << 8
	}
	if b, ok := s.custom[string(m)]; ok {
		return b
	}
	return otherBit
}

// add registers a method name (already upper-cased).
func (s *methodSet) add(name string) error {
	if !isToken(name) {
		return fmt.Errorf("method %q: not a valid method name", name)
	}
	if s.bit([]byte(name)) != otherBit {
		return nil
	}
	n := len(wellKnown) + len(s.extra)
	if n >= maxMethods {
		return fmt.Errorf("method %q: more than %d distinct methods in one table", name, maxMethods)
	}
	if s.custom == nil {
		s.custom = make(map[string]uint64)
	}
	s.custom[name] = 1 << n
	s.extra = append(s.extra, name)
	return nil
}

// mask returns the bits of a rule's methods; all of them must have been
// added. No methods means any method.
func (s *methodSet) mask(names []string) (uint64, error) {
	if len(names) == 0 {
		return anyMask, nil
	}
	var m uint64
	for _, name := range names {
		b := s.bit([]byte(strings.ToUpper(name)))
		if b == otherBit {
			return 0, errors.New("invalid method list")
		}
		m |= b
	}
	return m, nil
}

// describe names the methods of a mask for an error message.
func (s *methodSet) describe(m uint64) string {
	if m == anyMask {
		return "any method"
	}
	var names []string
	for i := 0; i < maxMethods; i++ {
		if m&(1<<i) == 0 {
			continue
		}
		if i < len(wellKnown) {
			names = append(names, wellKnown[i])
		} else if i-len(wellKnown) < len(s.extra) {
			names = append(names, s.extra[i-len(wellKnown)])
		}
	}
	if len(names) == 1 {
		return "method " + names[0]
	}
	return "methods " + strings.Join(names, ", ")
}

// isToken reports whether s is an HTTP token (RFC 9110, section 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
