package compress

// Encoding is a content coding the gateway can produce. Identity is the
// answer as it is.
type Encoding uint8

// The encodings, in no order of preference: a route's settings give the
// order.
const (
	Identity Encoding = iota
	Gzip
	Brotli
	Zstd
	numEncodings
)

var tokens = [numEncodings]string{"identity", "gzip", "br", "zstd"}

// String returns e's token in Accept-Encoding and Content-Encoding.
func (e Encoding) String() string {
	if e >= numEncodings {
		return "identity"
	}
	return tokens[e]
}

// Parse returns the encoding of token name ("gzip", "br", "zstd"; case
// does not matter), false for one the gateway does not produce.
func Parse(name string) (Encoding, bool) {
	e := lookup([]byte(name))
	return e, e != Identity && e < numEncodings
}

// unknown marks a token that is none of the encodings.
const unknown = numEncodings

// lookup maps a token, in any case, to its encoding; "x-gzip" is gzip
// (RFC 9110, section 8.4.1.3). Anything else is unknown.
func lookup(tok []byte) Encoding {
	switch len(tok) {
	case 2:
		if lower(tok[0]) == 'b' && lower(tok[1]) == 'r' {
			return Brotli
		}
	case 4:
		if equalFold(tok, "gzip") {
			return Gzip
		}
		if equalFold(tok, "zstd") {
			return Zstd
		}
	case 6:
		if equalFold(tok, "x-gzip") {
			return Gzip
		}
	case 8:
		if equalFold(tok, "identity") {
			return Identity
		}
	}
	return unknown
}

// Negotiate returns the encoding of offered (the server's order of
// preference) that the Accept-Encoding value accept weighs highest, ties
// going to the earlier in offered; Identity when the client accepts none
// of them, or weighs identity itself higher than each.
//
// The rules are RFC 9110's, section 12.5.3: a coding listed with q=0 is
// refused, "*" stands for every coding not listed, an empty value asks
// for identity alone. Tokens are case-insensitive; spaces and tabs
// around elements and parameters are skipped. An element that does not
// parse (a bad q-value, a stray character) is ignored, never taken as an
// acceptance. The first listing of a coding counts. No allocation.
func Negotiate(accept []byte, offered []Encoding) Encoding {
	// q per encoding in thousandths; -1 when not listed.
	var q [numEncodings]int
	for i := range q {
		q[i] = -1
	}
	star := -1
	for len(accept) > 0 {
		var elem []byte
		elem, accept = cut(accept, ',')
		tok, params := cut(elem, ';')
		tok = trim(tok)
		if len(tok) == 0 {
			continue
		}
		w, ok := weight(params)
		if !ok {
			continue
		}
		if len(tok) == 1 && tok[0] == '*' {
			if star < 0 {
				star = w
			}
			continue
		}
		if e := lookup(tok); e != unknown && q[e] < 0 {
			q[e] = w
		}
	}
	best, bestQ := Identity, 0
	for _, e := range offered {
		w := q[e]
		if w < 0 {
			w = star // "*" covers the codings not listed
		}
		if w > bestQ {
			best, bestQ = e, w
		}
	}
	// Identity listed with a higher weight than the best coding wins.
	if best != Identity && q[Identity] > bestQ {
		return Identity
	}
	return best
}

// weight parses an element's parameters (after the token's ';'): its
// q-value in thousandths, 1000 when it has none. ok is false when a
// parameter does not parse.
func weight(params []byte) (w int, ok bool) {
	w = 1000
	for len(params) > 0 {
		var p []byte
		p, params = cut(params, ';')
		p = trim(p)
		if len(p) == 0 {
			continue
		}
		name, value := cut(p, '=')
		name, value = trim(name), trim(value)
		if len(name) != 1 || lower(name[0]) != 'q' {
			continue // another parameter: no meaning for codings
		}
		if w, ok = qvalue(value); !ok {
			return 0, false
		}
	}
	return w, true
}

// qvalue parses "0", "0.5", "1", "1.000": at most three decimals, at
// most 1.
func qvalue(v []byte) (int, bool) {
	if len(v) == 0 || (v[0] != '0' && v[0] != '1') {
		return 0, false
	}
	w := int(v[0]-'0') * 1000
	if len(v) == 1 {
		return w, true
	}
	if v[1] != '.' || len(v) > 5 {
		return 0, false
	}
	scale := 100
	for _, c := range v[2:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		w += int(c-'0') * scale
		scale /= 10
	}
	if w > 1000 {
		return 0, false
	}
	return w, true
}

func cut(b []byte, sep byte) (before, after []byte) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold compares b with the lower-case ASCII s, ignoring b's case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}
