package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"sync/atomic"
)

// MinRSABits is the smallest RSA modulus accepted; smaller keys are
// skipped.
const MinRSABits = 2048

// Key is one public key. It is safe for concurrent use.
type Key struct {
	// ID is the key's kid; it may be empty for a static key.
	ID string
	// Public is an *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
	Public any
	// Alg is the algorithm the key is restricted to ("alg" of the JWK),
	// or empty when it names none.
	Alg string

	material string // what identifies the key material across refreshes
	dropped  atomic.Bool
}

// Dropped reports whether a refresh of its source removed the key.
// Anything verified with a dropped key must be verified again.
func (k *Key) Dropped() bool { return k.dropped.Load() }

// Allows reports whether a token signed with alg may be verified with k:
// the algorithm must belong to the key's type and curve (so that an HMAC
// or `none` token is never checked against a public key), and equal the
// key's own Alg when it has one.
func (k *Key) Allows(alg string) bool {
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	return keyFits(k.Public, alg)
}

// keyFits reports whether alg is an algorithm of key's type.
func keyFits(key any, alg string) bool {
	switch pub := key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// SupportedAlgorithm reports whether alg is an asymmetric signature
// algorithm keys here can verify.
func SupportedAlgorithm(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
		return true
	}
	return false
}

// Set is an immutable snapshot of keys. It is safe for concurrent use.
type Set struct {
	keys []*Key
	byID map[string]*Key
}

// NewSet returns a set of keys. Keys with an empty ID are kept but can
// only be found by Find when they are the set's single key. Of keys
// sharing an ID, the first wins.
func NewSet(keys []*Key) *Set {
	s := &Set{byID: make(map[string]*Key, len(keys))}
	for _, k := range keys {
		if k.ID != "" {
			if _, dup := s.byID[k.ID]; dup {
				continue
			}
			s.byID[k.ID] = k
		}
		s.keys = append(s.keys, k)
	}
	return s
}

// Len returns the number of keys.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// Keys returns the keys; the slice must not be modified.
func (s *Set) Keys() []*Key {
	if s == nil {
		return nil
	}
	return s.keys
}

// Find returns the key for a token's kid, or nil. The rule, so that a
// token never makes the gateway try every key it knows:
//
//   - a token with a kid gets the key with that ID, else nil; but a set of
//     one key without an ID answers every kid with that key;
//   - a token without a kid (hasKID false) gets a key only from a set of
//     exactly one key.
func (s *Set) Find(kid string, hasKID bool) *Key {
	if s == nil || len(s.keys) == 0 {
		return nil
	}
	if len(s.keys) == 1 && (!hasKID || s.keys[0].ID == "") {
		return s.keys[0]
	}
	if !hasKID {
		return nil
	}
	return s.byID[kid]
}

// carryOver replaces each key of next that old holds unchanged (same ID,
// same material) with old's *Key, and marks the keys of old that next no
// longer holds as dropped. It returns the set to publish.
func carryOver(old, next []*Key) []*Key {
	same := make(map[string]*Key, len(old))
	for _, k := range old {
		same[k.ID+"\x00"+k.material] = k
	}
	kept := make(map[*Key]bool, len(next))
	for i, k := range next {
		if o, ok := same[k.ID+"\x00"+k.material]; ok && o.Alg == k.Alg {
			next[i] = o
			kept[o] = true
		}
	}
	for _, k := range old {
		if !kept[k] {
			k.dropped.Store(true)
		}
	}
	return next
}
