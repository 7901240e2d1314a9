package router

import (
	"errors"
	"strconv"
	"strings"
)

// maxHost is the longest host name a host-specific rule can match.
const maxHost = 255

type hostKind uint8

const (
	hostAny hostKind = iota
	hostExact
	hostWild
)

// hostKey is a rule's host, normalized: lower case, no trailing dot. For
// a wildcard, name is the suffix with its leading dot (".example.com").
type hostKey struct {
	kind hostKind
	name string
}

func (h hostKey) describe() string {
	switch h.kind {
	case hostAny:
		return "any host"
	case hostWild:
		return "host " + strconv.Quote("*"+h.name)
	}
	return "host " + strconv.Quote(h.name)
}

// ruleHost checks and normalizes a rule's Host.
func ruleHost(s string) (hostKey, error) {
	if s == "" {
		return hostKey{kind: hostAny}, nil
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '/' {
			return hostKey{}, errors.New("invalid character in host name")
		}
	}
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	k := hostKey{kind: hostExact, name: s}
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		k = hostKey{kind: hostWild, name: s[1:]}
		s = rest
	}
	switch {
	case s == "":
		return hostKey{}, errors.New("empty host name")
	case strings.Contains(s, "*"):
		return hostKey{}, errors.New(`'*' is allowed only as a whole first label ("*.example.com")`)
	case s[0] == '[':
		if s[len(s)-1] != ']' || strings.Count(s, "[") != 1 || strings.Count(s, "]") != 1 {
			return hostKey{}, errors.New("invalid IPv6 literal or a port (the port is ignored when matching; leave it out)")
		}
	case strings.ContainsAny(s, ":[]"):
		return hostKey{}, errors.New("must not include a port (the port is ignored when matching)")
	}
	limit := maxHost
	if k.kind == hostWild {
		limit-- // room for at least one more byte of label
	}
	if len(k.name) > limit {
		return hostKey{}, errors.New("host name longer than 255 bytes")
	}
	return k, nil
}

// requestHost normalizes a request's host into buf: the port (":8080",
// also after "[::1]") and one trailing dot are dropped and ASCII letters
// lower-cased. It reports false for an empty host or one longer than
// maxHost, which then matches only any-host rules.
func requestHost(h []byte, buf *[maxHost]byte) ([]byte, bool) {
	if len(h) > 0 && h[0] == '[' {
		for i := 1; i < len(h); i++ {
			if h[i] == ']' {
				h = h[:i+1]
				break
			}
		}
	} else {
		for i := len(h) - 1; i >= 0; i-- {
			if h[i] == ':' {
				h = h[:i]
				break
			}
		}
	}
	if len(h) > 0 && h[len(h)-1] == '.' {
		h = h[:len(h)-1]
	}
	if len(h) == 0 || len(h) > maxHost {
		return nil, false
	}
	for i, c := range h {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return buf[:len(h)], true
}
