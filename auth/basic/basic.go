package basic

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/fastgate/gateway/auth"
	"github.com/fastgate/gateway/auth/internal/ttlcache"
)

// User is one user as the configuration holds it.
type User struct {
	// Name is the user name; it must not contain ':'.
	Name string
	// Hash is the bcrypt hash of the password ($2a$, $2b$ or $2y$).
	Hash string
}

// Settings configure a Checker.
type Settings struct {
	// Users who may log in.
	Users []User
	// CacheSize bounds the cache of verified credentials; zero means 1000,
	// negative disables it (bcrypt then runs on every request).
	CacheSize int
	// CacheTTL is how long a verified credential is trusted without
	// running bcrypt again; zero means 5 minutes.
	CacheTTL time.Duration
}

// Checker verifies user names and passwords. It is safe for concurrent
// use.
type Checker struct {
	users map[string]user
	cache *ttlcache.Cache[[32]byte, string]
	ttl   time.Duration
	salt  [16]byte
	dummy []byte
}

type user struct {
	name string
	hash []byte
}

// New checks s and returns a Checker.
func New(s Settings) (*Checker, error) {
	c := &Checker{users: make(map[string]user, len(s.Users)), ttl: s.CacheTTL}
	if c.ttl <= 0 {
		c.ttl = 5 * time.Minute
	}
	var errs []error
	for i, u := range s.Users {
		if err := checkUser(u); err != nil {
			errs = append(errs, fmt.Errorf("basic: user %d (%s): %w", i, u.Name, err))
			continue
		}
		if _, dup := c.users[u.Name]; dup {
			errs = append(errs, fmt.Errorf("basic: user %q appears twice", u.Name))
			continue
		}
		c.users[u.Name] = user{name: u.Name, hash: []byte(u.Hash)}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	size := s.CacheSize
	if size == 0 {
		size = 1000
	}
	if size > 0 {
		c.cache = ttlcache.New[[32]byte, string](size, ttlcache.DigestShard)
	}
	if _, err := rand.Read(c.salt[:]); err != nil {
		return nil, fmt.Errorf("basic: %w", err)
	}
	// A hash of the cost the configured ones use, so that an unknown user
	// costs about as much as a known one.
	cost := bcrypt.DefaultCost
	for _, u := range c.users {
		cost, _ = bcrypt.Cost(u.hash)
		break
	}
	dummy, err := bcrypt.GenerateFromPassword(c.salt[:], cost)
	if err != nil {
		return nil, fmt.Errorf("basic: %w", err)
	}
	c.dummy = dummy
	return c, nil
}

func checkUser(u User) error {
	if u.Name == "" || strings.ContainsAny(u.Name, ":\r\n") {
		return errors.New("a user name must be non-empty and hold no ':'")
	}
	if !isBcrypt(u.Hash) {
		return errors.New("the hash is not a bcrypt hash ($2a$, $2b$ or $2y$)")
	}
	if _, err := bcrypt.Cost([]byte(u.Hash)); err != nil {
		return fmt.Errorf("the bcrypt hash is malformed: %w", err)
	}
	return nil
}

func isBcrypt(h string) bool {
	return strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")
}

// maxCredential bounds user:password; longer ones are refused (bcrypt
// reads at most 72 bytes of a password anyway).
const maxCredential = 512

// Check reports whether password is name's, and returns the user name as
// configured (so the caller keeps no slice of the request). A credential
// verified within the TTL costs a SHA-256 and a lookup, no allocation;
// otherwise bcrypt runs.
func (c *Checker) Check(name, password []byte, now time.Time) (string, bool) {
	if len(name) == 0 || len(name)+1+len(password) > maxCredential {
		return "", false
	}
	var key [32]byte
	if c.cache != nil {
		key = c.cacheKey(name, password)
		if u, ok := c.cache.Get(key, now.UnixNano()); ok {
			return u, true
		}
	}
	u, known := c.users[string(name)]
	if !known {
		_ = bcrypt.CompareHashAndPassword(c.dummy, password)
		return "", false
	}
	if bcrypt.CompareHashAndPassword(u.hash, password) != nil {
		return "", false
	}
	if c.cache != nil {
		c.cache.Put(key, u.name, now.Add(c.ttl).UnixNano(), now.UnixNano())
	}
	return u.name, true
}

func (c *Checker) cacheKey(name, password []byte) [32]byte {
	var buf [len(c.salt) + maxCredential]byte
	n := copy(buf[:], c.salt[:])
	n += copy(buf[n:], name)
	buf[n] = ':'
	n++
	n += copy(buf[n:], password)
	return sha256.Sum256(buf[:n])
}

// CheckAuthorization checks the value of an Authorization header: it
// returns the user and auth.Allowed, or auth.Missing when there is no
// basic credential, auth.Invalid when it is malformed or wrong. It does
// not allocate when the credential is cached.
func (c *Checker) CheckAuthorization(authorization []byte, now time.Time) (string, auth.Reason) {
	enc := auth.SchemeValue(authorization, "basic")
	if len(enc) == 0 {
		return "", auth.Missing
	}
	var buf [maxCredential]byte
	if base64.StdEncoding.DecodedLen(len(enc)) > len(buf) {
		return "", auth.Invalid
	}
	n, err := base64.StdEncoding.Decode(buf[:], enc)
	if err != nil {
		return "", auth.Invalid
	}
	cred := buf[:n]
	i := indexByte(cred, ':')
	if i < 0 {
		return "", auth.Invalid
	}
	u, ok := c.Check(cred[:i], cred[i+1:], now)
	if !ok {
		return "", auth.Invalid
	}
	return u, auth.Allowed
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}
