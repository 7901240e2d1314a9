package cache

// Policy says which responses a route lets the cache store. The zero
// Policy is the safe one: it stores neither private nor no-store
// responses. Build it once per route.
type Policy struct {
	// AllowPrivate stores responses marked Cache-Control: private or
	// carrying Set-Cookie. Such a copy may then be served to another
	// client: set it only for routes whose answers are the same for all.
	AllowPrivate bool
	// AllowNoStore stores responses marked Cache-Control: no-store.
	AllowNoStore bool
}

// Storable reports whether the answer to a request may be stored: a GET
// or HEAD request, a 2xx status other than 206 (a part is no copy of the
// whole), no Cache-Control directive that p forbids (see Forbids), and no
// Set-Cookie unless p.AllowPrivate. cacheControl is the response's
// Cache-Control value (nil when there is none); a response with several
// Cache-Control lines is storable only if Forbids holds for none of them.
// Storable allocates nothing.
func (p Policy) Storable(method []byte, status int, cacheControl []byte, setCookie bool) bool {
	if string(method) != "GET" && string(method) != "HEAD" {
		return false
	}
	if status < 200 || status > 299 || status == 206 {
		return false
	}
	if setCookie && !p.AllowPrivate {
		return false
	}
	return !p.Forbids(cacheControl)
}

// Forbids reports whether a Cache-Control value holds a directive that p
// does not allow: no-store (unless AllowNoStore) or private, with or
// without field names (unless AllowPrivate). Directive names match as
// whole tokens, in any case; quoted values are skipped, so a "no-store"
// inside one does not count.
func (p Policy) Forbids(cacheControl []byte) bool {
	v := cacheControl
	for i := 0; i < len(v); {
		if c := v[i]; c == ',' || c == ' ' || c == '\t' {
			i++
			continue
		}
		start := i
		for i < len(v) && !isDelimiter(v[i]) {
			i++
		}
		name := v[start:i]
		if !p.AllowNoStore && equalFold(name, "no-store") || !p.AllowPrivate && equalFold(name, "private") {
			return true
		}
		for i < len(v) && v[i] != ',' { // the value, if any, up to the next directive
			if v[i] == '"' {
				i = skipQuoted(v, i)
			} else {
				i++
			}
		}
	}
	return false
}

func isDelimiter(c byte) bool {
	return c == ',' || c == '=' || c == ' ' || c == '\t' || c == '"'
}

// skipQuoted returns the index after the quoted string that starts at
// v[i], honouring backslash escapes; len(v) when it is not closed.
func skipQuoted(v []byte, i int) int {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(v)
}

// equalFold reports whether b equals the lower-case ASCII lower, in any
// case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
