package config

import (
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Syntax checks that several sections share: names, HTTP tokens, host
// names and addresses.

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

// checkDialAddr checks an address to connect to: "host:port" with a host
// and a port other than 0.
func checkDialAddr(s string) string {
	if msg := checkHostPort(s); msg != "" {
		return msg
	}
	if host, port, _ := net.SplitHostPort(s); host == "" || port == "0" {
		return "want host:port with a host and a port other than 0"
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
