package certs

import (
	"crypto/tls"
	"sync/atomic"
)

// Store holds the Set that new handshakes use, behind an atomic pointer:
// Swap replaces it at once, handshakes that already chose a certificate
// (and open connections) keep theirs. A Store is safe for concurrent use;
// its zero value holds no set and refuses every handshake.
type Store struct {
	current atomic.Pointer[Set]
}

// NewStore returns a Store serving set (which may be nil).
func NewStore(set *Set) *Store {
	s := &Store{}
	s.current.Store(set)
	return s
}

// Swap makes set the one new handshakes use and returns the previous one.
// Build and check the new Set first (NewSet, LoadPair): a failed load
// leaves the Store unchanged because Swap is never called.
func (s *Store) Swap(set *Set) (previous *Set) { return s.current.Swap(set) }

// Current returns the set in use (nil when none).
func (s *Store) Current() *Set { return s.current.Load() }

// GetCertificate selects by the client hello's server name from the
// current set; it is meant for tls.Config.GetCertificate.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	set := s.current.Load()
	if set == nil {
		return nil, ErrEmptySet
	}
	return set.Select(hello.ServerName)
}

// Expiry returns the current set's certificates and their ends of
// validity (nil when the store holds no set).
func (s *Store) Expiry() []Expiry {
	set := s.current.Load()
	if set == nil {
		return nil
	}
	return set.Expiry()
}
