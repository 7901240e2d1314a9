package certs

import (
	"crypto/tls"
	"errors"
	"strings"
	"time"
)

// Errors of certificate selection. GetCertificate returns them to
// crypto/tls, which then ends the handshake with an alert.
var (
	ErrUnknownName = errors.New("certs: no certificate for this server name (strict SNI)")
	ErrNoSNI       = errors.New("certs: client sent no server name (strict SNI)")
	ErrEmptySet    = errors.New("certs: no certificate configured")
)

// maxNameLen bounds a DNS name (RFC 1035); longer names never match.
const maxNameLen = 253

// SetOptions are the choices of a Set beyond its pairs.
type SetOptions struct {
	// Default is the pair served to clients that send no server name or
	// one that no certificate covers. Nil means the first pair. It must
	// be one of the pairs given to NewSet.
	Default *Pair
	// StrictSNI refuses the handshake of a client whose server name no
	// certificate covers, and of a client that sends none; the default
	// pair is then never served by fallback.
	StrictSNI bool
}

// Set is an immutable collection of certificates chosen by server name.
// It is safe for concurrent use.
type Set struct {
	pairs    []*Pair
	exact    map[string]*tls.Certificate // "api.example.com"
	wildcard map[string]*tls.Certificate // "example.com" for "*.example.com"
	fallback *tls.Certificate
	strict   bool
}

// NewSet indexes pairs by the DNS names of each leaf (its subject
// alternative names; the common name is not used, as by browsers and
// Go's verifier). When two pairs cover the same name, the one earlier in
// pairs wins. NewSet returns ErrEmptySet for no pairs.
func NewSet(pairs []*Pair, o SetOptions) (*Set, error) {
	if len(pairs) == 0 {
		return nil, ErrEmptySet
	}
	s := &Set{
		pairs:    append([]*Pair(nil), pairs...),
		exact:    make(map[string]*tls.Certificate),
		wildcard: make(map[string]*tls.Certificate),
		strict:   o.StrictSNI,
	}
	for _, p := range s.pairs {
		if p == nil || p.Certificate.Leaf == nil {
			return nil, errors.New("certs: NewSet: a pair is nil or has no parsed leaf; load it with LoadPair")
		}
		cert := &p.Certificate
		for _, name := range p.Certificate.Leaf.DNSNames {
			name = strings.TrimSuffix(strings.ToLower(name), ".")
			m, key := s.exact, name
			if rest, ok := strings.CutPrefix(name, "*."); ok {
				m, key = s.wildcard, rest
			}
			if _, taken := m[key]; !taken {
				m[key] = cert
			}
		}
	}
	s.fallback = &s.pairs[0].Certificate
	if o.Default != nil {
		found := false
		for _, p := range s.pairs {
			if p == o.Default {
				found = true
			}
		}
		if !found {
			return nil, errors.New("certs: NewSet: the default pair is not one of the pairs")
		}
		s.fallback = &o.Default.Certificate
	}
	return s, nil
}

// Select returns the certificate for a server name: the one that names it
// exactly, else one whose wildcard covers it (*.example.com covers
// a.example.com, not a.b.example.com nor example.com), else the default;
// under strict SNI an uncovered name gives ErrUnknownName and an empty one
// ErrNoSNI. Names compare case-insensitively and a trailing dot is
// ignored. Select does not allocate.
func (s *Set) Select(name string) (*tls.Certificate, error) {
	if len(name) > 0 && name[len(name)-1] == '.' {
		name = name[:len(name)-1]
	}
	if name == "" {
		if s.strict {
			return nil, ErrNoSNI
		}
		return s.fallback, nil
	}
	if len(name) <= maxNameLen {
		var buf [maxNameLen]byte
		lower := buf[:len(name)]
		for i := 0; i < len(name); i++ {
			c := name[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
		// m[string(b)] with a non-escaping conversion does not allocate.
		if c, ok := s.exact[string(lower)]; ok {
			return c, nil
		}
		if dot := indexByte(lower, '.'); dot > 0 && dot < len(lower)-1 {
			if c, ok := s.wildcard[string(lower[dot+1:])]; ok {
				return c, nil
			}
		}
	}
	if s.strict {
		return nil, ErrUnknownName
	}
	return s.fallback, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// Pairs returns the set's pairs in the order given to NewSet. The slice
// is the caller's; the pairs are shared and must not be changed.
func (s *Set) Pairs() []*Pair { return append([]*Pair(nil), s.pairs...) }

// Expiry describes one served certificate for an expiry gauge.
type Expiry struct {
	// Names are the leaf's DNS names (its common name when it has none).
	Names []string
	// NotAfter is the end of the leaf's validity.
	NotAfter time.Time
	// CertFile is the file it was loaded from; empty when from memory.
	CertFile string
}

// Expiry returns, for every pair of the set in order, its names and the
// end of its validity.
func (s *Set) Expiry() []Expiry {
	out := make([]Expiry, 0, len(s.pairs))
	for _, p := range s.pairs {
		leaf := p.Certificate.Leaf
		names := append([]string(nil), leaf.DNSNames...)
		if len(names) == 0 && leaf.Subject.CommonName != "" {
			names = []string{leaf.Subject.CommonName}
		}
		out = append(out, Expiry{Names: names, NotAfter: leaf.NotAfter, CertFile: p.CertFile})
	}
	return out
}
