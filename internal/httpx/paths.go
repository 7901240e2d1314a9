package httpx

import "bytes"

// TargetForm is what CheckTarget found a request target to be.
type TargetForm uint8

const (
	TargetBad      TargetForm = iota // refused with 400 (ErrBadRequest)
	TargetOrigin                     // "/path?query"
	TargetAbsolute                   // "http://host/path?query"
)

// CheckTarget applies the gateway's path policy to a request target as the
// client sent it, before anything routes on it. fasthttp's URI.Path, which
// routing, rate-limit keys, cache keys and forwarding all use, decodes
// every percent-encoding, merges "//" and removes dot segments; the policy
// refuses the targets on which that normal form could differ from what a
// server behind the gateway reads:
//
//   - an encoded "/", "\", "%" (double encoding), ";", "?", "#", or any
//     encoded control character (NUL included), and a malformed escape;
//   - a raw "\" or ";" in the path, and a fragment anywhere;
//   - dot segments (plain or encoded) that climb above "/";
//   - a target that is neither origin-form ("/...") nor absolute-form
//     ("http://..." or "https://..."), and one that starts with "//" and
//     holds "://", which fasthttp would read as a host.
//
// It scans the target once and does not allocate.
func CheckTarget(raw []byte) TargetForm {
	form := TargetOrigin
	if len(raw) == 0 {
		return TargetBad
	}
	if raw[0] != '/' {
		rest, ok := cutScheme(raw)
		if !ok {
			return TargetBad
		}
		end := bytes.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if end == 0 || bytes.IndexByte(rest[:end], '@') >= 0 {
			return TargetBad // no host, or userinfo
		}
		raw, form = rest[end:], TargetAbsolute
	} else if len(raw) > 1 && raw[1] == '/' && bytes.Contains(raw, []byte("://")) {
		return TargetBad
	}
	if bytes.IndexByte(raw, '#') >= 0 {
		return TargetBad
	}
	path := raw
	if i := bytes.IndexByte(raw, '?'); i >= 0 {
		path = raw[:i]
	}
	if !checkPath(path) {
		return TargetBad
	}
	return form
}

// cutScheme returns what follows "http://" or "https://" (any case).
func cutScheme(raw []byte) ([]byte, bool) {
	for _, s := range [...]string{"http://", "https://"} {
		if len(raw) >= len(s) && bytes.EqualFold(raw[:len(s)], []byte(s)) {
			return raw[len(s):], true
		}
	}
	return nil, false
}

// checkPath checks the path part of a request target (possibly empty, for
// "http://host") against the policy of CheckTarget.
func checkPath(path []byte) bool {
	depth := 0
	segLen, dots := 0, 0 // decoded length of the current segment, and its dots
	endSegment := func() bool {
		switch {
		case segLen == 0 || (segLen == 1 && dots == 1):
			// "//" or "/./": nothing
		case segLen == 2 && dots == 2:
			if depth == 0 {
				return false // climbs above "/"
			}
			depth--
		default:
			depth++
		}
		segLen, dots = 0, 0
		return true
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '/':
			if !endSegment() {
				return false
			}
			continue
		case c <= ' ' || c == 0x7f || c == '\\' || c == ';':
			return false
		case c == '%':
			if i+2 >= len(path) {
				return false
			}
			hi, ok1 := unhex(path[i+1])
			lo, ok2 := unhex(path[i+2])
			if !ok1 || !ok2 {
				return false
			}
			c = hi<<4 | lo
			switch {
			case c < ' ' || c == 0x7f, c == '/', c == '\\', c == '%', c == ';', c == '?', c == '#':
				return false
			}
			i += 2
		}
		segLen++
		if c == '.' {
			dots++
		}
	}
	return endSegment()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
