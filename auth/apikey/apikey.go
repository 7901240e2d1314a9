package apikey

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fastgate/gateway/auth"
)

// Key is one API key as the configuration holds it.
type Key struct {
	// Consumer names who uses the key; it is passed upstream.
	Consumer string
	// SHA256 is the hex SHA-256 of the key (64 characters, any case).
	SHA256 string
}

// Set is an immutable set of keys. It is safe for concurrent use.
type Set struct {
	byPrefix map[uint64][]entry
	n        int
}

type entry struct {
	digest   [32]byte
	consumer string
}

// Hash returns the hex SHA-256 of key, the form the configuration holds
// (what `gateway hash-key` prints).
func Hash(key string) string {
	d := sha256.Sum256([]byte(key))
	return hex.EncodeToString(d[:])
}

// New checks keys and returns their set: each needs a consumer and a
// 64-character hex hash, and no hash may appear twice.
func New(keys []Key) (*Set, error) {
	s := &Set{byPrefix: make(map[uint64][]entry, len(keys))}
	var errs []error
	seen := make(map[[32]byte]bool, len(keys))
	for i, k := range keys {
		d, err := decodeHash(k.SHA256)
		if err != nil {
			errs = append(errs, fmt.Errorf("apikey: key %d (%s): %w", i, k.Consumer, err))
			continue
		}
		if strings.TrimSpace(k.Consumer) == "" {
			errs = append(errs, fmt.Errorf("apikey: key %d has no consumer", i))
			continue
		}
		if seen[d] {
			errs = append(errs, fmt.Errorf("apikey: key %d (%s): the same hash appears twice", i, k.Consumer))
			continue
		}
		seen[d] = true
		p := binary.LittleEndian.Uint64(d[:8])
		s.byPrefix[p] = append(s.byPrefix[p], entry{digest: d, consumer: k.Consumer})
		s.n++
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

func decodeHash(h string) ([32]byte, error) {
	var d [32]byte
	if len(h) != 64 {
		return d, errors.New("the hash must be 64 hex characters (a SHA-256)")
	}
	if _, err := hex.Decode(d[:], []byte(h)); err != nil {
		return d, errors.New("the hash is not hexadecimal")
	}
	return d, nil
}

// Len returns the number of keys.
func (s *Set) Len() int { return s.n }

// Lookup returns the consumer of the presented key, or false. It does
// not allocate and does not retain key.
func (s *Set) Lookup(key []byte) (consumer string, ok bool) {
	if len(key) == 0 {
		return "", false
	}
	d := sha256.Sum256(key)
	for _, e := range s.byPrefix[binary.LittleEndian.Uint64(d[:8])] {
		if subtle.ConstantTimeCompare(e.digest[:], d[:]) == 1 {
			return e.consumer, true
		}
	}
	return "", false
}

// Parse reads keys, one per line as CONSUMER:SHA256HEX; blank lines and
// lines starting with # are skipped. Errors name the line.
func Parse(r io.Reader) ([]Key, error) {
	var keys []Key
	err := auth.ParseLines(r, "CONSUMER:SHA256HEX", func(consumer, hash string) error {
		if _, err := decodeHash(hash); err != nil {
			return err
		}
		keys = append(keys, Key{Consumer: consumer, SHA256: hash})
		return nil
	})
	return keys, err
}

// LoadFile reads keys from the file at path (see Parse); errors name the
// file and line.
func LoadFile(path string) ([]Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("apikey: %w", err)
	}
	defer f.Close()
	keys, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("apikey: %s: %w", path, err)
	}
	return keys, nil
}
