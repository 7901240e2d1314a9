package tracing

// Limits of a tracestate header (W3C Trace Context, section 3.3).
const (
	maxTracestateLen     = 512
	maxTracestateMembers = 32
	maxSimpleKeyLen      = 256
	maxTenantIDLen       = 241
	maxSystemIDLen       = 14
	maxValueLen          = 256
)

// ValidTracestate reports whether b, the value of a tracestate header, may
// be passed on unchanged: at most 512 bytes, and a comma-separated list
// of at most 32 list-members "key=value" with optional spaces and tabs
// around each member. A key is a simple key (a lower-case letter, then up
// to 255 of a-z 0-9 _ - * /) or a multi-tenant key "tenant@system"; a
// value is 1 to 256 printable ASCII characters other than ',' and '=',
// not ending in a space. Empty members are allowed; a key must not repeat.
// An empty or blank b is not valid (there is nothing to pass on).
//
// ValidTracestate allocates nothing. The caller drops a tracestate it
// rejects, and should drop tracestate whenever traceparent is invalid.
func ValidTracestate(b []byte) bool {
	if len(b) > maxTracestateLen {
		return false
	}
	members := 0
	for rest := b; rest != nil; {
		var m []byte
		seen := b[:len(b)-len(rest)] // the members before this one
		m, rest, _ = cut(rest, ',')
		m = trimOWS(m)
		if len(m) == 0 {
			continue
		}
		key, ok := validMember(m)
		if !ok || hasKey(seen, key) {
			return false
		}
		if members++; members > maxTracestateMembers {
			return false
		}
	}
	return members > 0
}

// hasKey reports whether the list of valid members list holds a member
// with the key key.
func hasKey(list, key []byte) bool {
	for rest := list; rest != nil; {
		var m []byte
		m, rest, _ = cut(rest, ',')
		if k, _, _ := cut(trimOWS(m), '='); len(k) > 0 && string(k) == string(key) {
			return true
		}
	}
	return false
}

// validMember checks one trimmed, non-empty list-member and returns its
// key.
func validMember(m []byte) (key []byte, ok bool) {
	key, value, found := cut(m, '=')
	if !found || !validKey(key) || len(value) == 0 || len(value) > maxValueLen {
		return nil, false
	}
	for _, c := range value {
		if c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return nil, false
		}
	}
	return key, value[len(value)-1] != ' '
}

func validKey(k []byte) bool {
	tenant, system, multi := cut(k, '@')
	if !multi {
		return len(k) <= maxSimpleKeyLen && len(k) > 0 && isLower(k[0]) && keyChars(k[1:])
	}
	return len(tenant) > 0 && len(tenant) <= maxTenantIDLen &&
		(isLower(tenant[0]) || isDigit(tenant[0])) && keyChars(tenant[1:]) &&
		len(system) > 0 && len(system) <= maxSystemIDLen &&
		isLower(system[0]) && keyChars(system[1:])
}

func keyChars(b []byte) bool {
	for _, c := range b {
		if !isLower(c) && !isDigit(c) && c != '_' && c != '-' && c != '*' && c != '/' {
			return false
		}
	}
	return true
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// cut is bytes.Cut, except that after returns nil (not empty) when sep is
// not found, so a loop over a list can tell the last element from an
// empty one.
func cut(b []byte, sep byte) (before, after []byte, found bool) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
