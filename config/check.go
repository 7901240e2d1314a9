package config

import (
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// validName reports whether s matches ^[A-Za-z0-9_.-]+$.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2), the
// syntax of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// checkHostPort accepts "host:port" with a numeric port; the host may be
// empty (all interfaces), an IP address or a host name.
func checkHostPort(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return `want host:port, like ":8080" or "127.0.0.1:8080"`
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || port[0] == '+' {
		return "port must be a number 0-65535"
	}
	if host == "" {
		return ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	if !validHostname(strings.ToLower(host)) {
		return "host is not an IP address or host name"
	}
	return ""
}

// sameListener reports whether two valid "host:port" listen addresses
// take the same port on a common interface: the same port, and the same
// host or either one all interfaces. Port 0 (any free port) never clashes.
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	na, errPA := strconv.Atoi(pa)
	nb, errPB := strconv.Atoi(pb)
	if errA != nil || errB != nil || errPA != nil || errPB != nil || na != nb || na == 0 {
		return false
	}
	all := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return strings.EqualFold(ha, hb) || all(ha) || all(hb)
}

// validHostname reports whether s (lower case) is a DNS name: dot-separated
// labels of 1 to 63 letters, digits, '-' or '_', not starting or ending
// with '-'; 253 bytes at most.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// checkHost accepts a host name, or "*." and a host name. s is already
// lower case.
func checkHost(s string) string {
	name := strings.TrimPrefix(s, "*.")
	switch {
	case strings.Contains(name, "*"):
		return `a wildcard is only allowed as a leading "*.", like "*.example.com"`
	case strings.Contains(name, ":"):
		if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err != nil {
			return "must not contain a port"
		}
		return "IPv6 literals are not supported as route hosts"
	case !validHostname(name):
		return "not a valid host name"
	}
	return ""
}

// checkPath checks an exact path or prefix. An exact path may hold
// parameters: {name} as a whole segment, names unique within the path, and
// a catch-all {name...} as the last segment (the router's rules).
func checkPath(p string, template bool) string {
	if !strings.HasPrefix(p, "/") {
		return `must start with "/"`
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '?' || c == '#':
			return "must not contain '?' or '#'; match on the path only"
		case c <= ' ' || c == 0x7f:
			return "must not contain spaces or control characters"
		}
	}
	if msg := checkNormalPath(p, template); msg != "" {
		return msg
	}
	if !strings.ContainsAny(p, "{}") {
		return ""
	}
	if !template {
		return "parameters like {id} are only allowed in path, not path_prefix"
	}
	names := make(map[string]bool)
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		if !strings.ContainsAny(seg, "{}") {
			continue
		}
		open, closing := strings.Count(seg, "{"), strings.Count(seg, "}")
		if open != closing {
			return "unbalanced braces"
		}
		if open > 1 || seg[0] != '{' || seg[len(seg)-1] != '}' {
			return "a parameter must be a whole path segment, like /users/{id}/posts"
		}
		name := seg[1 : len(seg)-1]
		if n, ok := strings.CutSuffix(name, "..."); ok {
			if i != len(segs)-1 {
				return "a catch-all parameter {name...} must be the last segment"
			}
			name = n
		}
		if !validParam(name) {
			return "parameter names must match [A-Za-z_][A-Za-z0-9_]*"
		}
		if names[name] {
			return "a parameter name is used twice"
		}
		names[name] = true
	}
	return ""
}

// checkNormalPath refuses what no request can match: the gateway routes
// on the path decoded and cleaned ("//" merged, dot segments removed) and
// refuses targets holding an encoded "/", "%", backslash or ";", or a raw
// backslash or ";". A prefix's last segment may be partial ("/r/." matches
// "/r/.well-known"), so only its complete segments are checked.
func checkNormalPath(p string, exact bool) string {
	if strings.ContainsAny(p, "%\\;") {
		return "must not contain '%', '\\' or ';': requests are routed on the decoded path, and the gateway refuses these characters in it"
	}
	if strings.Contains(p, "//") {
		return `must not contain "//": requests are routed with "//" merged into "/"`
	}
	segs := strings.Split(p[1:], "/")
	if !exact {
		segs = segs[:len(segs)-1]
	}
	for _, seg := range segs {
		if seg == "." || seg == ".." {
			return `must not contain "." or ".." segments: requests are routed with them removed`
		}
	}
	return ""
}

// validParam is validEnvName's rule: [A-Za-z_][A-Za-z0-9_]*.
func validParam(s string) bool { return validEnvName(s) }

// checkTarget checks an upstream URL, "http://host:port". key identifies
// the target for duplicate detection.
func checkTarget(raw string) (key, msg string) {
	const want = "want http://host:port"
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "" || u.Opaque != "":
		return "", want
	case u.Scheme != "http":
		return "", "scheme must be http (others are not supported yet)"
	case u.User != nil:
		return "", "must not contain user info (user:password@)"
	case u.Hostname() == "":
		return "", "missing host; " + want
	case u.Port() == "":
		return "", "missing port; " + want
	case u.Path != "" || u.RawPath != "":
		return "", "must not have a path; use strip_prefix to rewrite paths"
	case u.RawQuery != "" || u.ForceQuery:
		return "", "must not have a query"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", "must not have a fragment"
	}
	if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
		return "", "port must be a number 1-65535"
	}
	host := strings.ToLower(u.Hostname())
	if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
		return "", "host is not an IP address or host name"
	}
	return net.JoinHostPort(host, u.Port()), ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
