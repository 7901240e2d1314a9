package jwt

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/fastgate/gateway/auth"
	"github.com/fastgate/gateway/auth/internal/ttlcache"
	"github.com/fastgate/gateway/auth/jwt/jwks"
)

// KeySource yields a provider's keys; *jwks.Source is one.
type KeySource interface {
	// Current returns the key set to verify with (nil: none yet).
	Current() *jwks.Set
	// Refetch is called when a token names a kid the current set lacks;
	// it reports whether the set may have changed.
	Refetch(now time.Time) bool
}

var _ KeySource = (*jwks.Source)(nil)

// ClaimRule requires a claim. A dotted name reaches into nested objects
// ("realm_access.roles") when no top-level claim has that name. A string
// claim holds a value when it equals
// it or when one of its space-separated words does (so "scope" holding
// "read write" holds "read"); an array claim holds each of its elements;
// numbers and booleans hold their JSON text.
type ClaimRule struct {
	// Name is the claim's name, e.g. "scope".
	Name string
	// AnyOf lists values of which the claim must hold at least one.
	AnyOf []string
	// AllOf lists values the claim must all hold.
	AllOf []string
}

// Settings describe a provider. The zero value of each field is stated.
type Settings struct {
	// Issuer is the required "iss"; empty means iss is not checked.
	Issuer string
	// Audiences lists accepted "aud" values: the token must name at least
	// one of them, or all of them with AllAudiences. Empty means aud is
	// not checked.
	Audiences []string
	// AllAudiences requires every one of Audiences instead of any.
	AllAudiences bool
	// Algorithms lists the accepted signature algorithms (RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA); empty means
	// all of them. HMAC algorithms and none are never accepted.
	Algorithms []string
	// ClockSkew is the leeway on exp, nbf and iat; zero means none.
	ClockSkew time.Duration
	// ExpirationOptional accepts tokens without "exp"; false (the
	// default) refuses them.
	ExpirationOptional bool
	// RequiredClaims must all hold; a token failing one is Forbidden.
	RequiredClaims []ClaimRule
	// Claims names the claims returned as strings in Result.Claims, in
	// this order; a dotted name reaches into nested objects.
	Claims []string
	// CacheSize bounds the cache of verified tokens; zero means 10000,
	// negative disables the cache.
	CacheSize int
	// MaxTokenBytes refuses longer tokens before parsing them; zero means
	// 8 KiB.
	MaxTokenBytes int
}

// noExpiryCacheFor is how long a token without exp stays cached.
const noExpiryCacheFor = time.Minute

// Result is what a verified token tells the caller. It is shared by every
// request that presents the same token: do not modify it.
type Result struct {
	// Subject is the "sub" claim ("" when absent or not a string).
	Subject string
	// Claims holds the values of Settings.Claims, in that order, as
	// strings ("" for an absent claim or one that cannot be a header
	// value).
	Claims []string
	// Expires is the token's exp (zero without one).
	Expires time.Time
}

// Provider verifies tokens of one issuer. It is safe for concurrent use.
type Provider struct {
	s      Settings
	keys   KeySource
	opts   []gojwt.ParserOption
	cache  *ttlcache.Cache[uint64, *cached]
	seed   maphash.Seed
	maxLen int
}

type cached struct {
	token  []byte
	result *Result
	key    *jwks.Key
}

// New checks s and returns a provider verifying with keys.
func New(s Settings, keys KeySource) (*Provider, error) {
	if keys == nil {
		return nil, errors.New("jwt: a provider needs a key source")
	}
	if len(s.Algorithms) == 0 {
		s.Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	}
	for _, a := range s.Algorithms {
		if !jwks.SupportedAlgorithm(a) {
			return nil, fmt.Errorf("jwt: algorithm %q is not supported (asymmetric algorithms only: RS*, PS*, ES*, EdDSA)", a)
		}
	}
	if s.ClockSkew < 0 {
		return nil, errors.New("jwt: clock skew must not be negative")
	}
	for i, r := range s.RequiredClaims {
		if r.Name == "" {
			return nil, fmt.Errorf("jwt: required claim %d has no name", i)
		}
	}
	p := &Provider{s: s, keys: keys, seed: maphash.MakeSeed(), maxLen: s.MaxTokenBytes}
	if p.maxLen <= 0 {
		p.maxLen = 8 << 10
	}
	p.opts = []gojwt.ParserOption{gojwt.WithValidMethods(s.Algorithms), gojwt.WithLeeway(s.ClockSkew), gojwt.WithStrictDecoding()}
	if !s.ExpirationOptional {
		p.opts = append(p.opts, gojwt.WithExpirationRequired())
	}
	if s.Issuer != "" {
		p.opts = append(p.opts, gojwt.WithIssuer(s.Issuer))
	}
	if len(s.Audiences) > 0 {
		if s.AllAudiences {
			p.opts = append(p.opts, gojwt.WithAllAudiences(s.Audiences...))
		} else {
			p.opts = append(p.opts, gojwt.WithAudience(s.Audiences...))
		}
	}
	size := s.CacheSize
	if size == 0 {
		size = 10000
	}
	if size > 0 {
		p.cache = ttlcache.New[uint64, *cached](size, ttlcache.Uint64Shard)
	}
	return p, nil
}

// Errors that say, for a log line, why a token was refused.
var (
	ErrTooLong    = errors.New("jwt: token longer than the provider accepts")
	ErrNoKeySet   = errors.New("jwt: the provider has no keys yet (JWKS not fetched)")
	ErrUnknownKey = errors.New("jwt: no key of the provider matches the token's kid (a token without kid needs a provider of one key)")
	ErrKeyAlg     = errors.New("jwt: the token's algorithm does not fit its key")
	ErrClaim      = errors.New("jwt: a required claim does not hold")
	ErrCritical   = errors.New("jwt: the token names critical header extensions (crit), none of which are supported")
)

// Verify checks token as of now. On success it returns the result and
// auth.Allowed; otherwise a nil result, the reason (Missing for an empty
// token, Invalid, Expired, Forbidden, Unavailable when the provider has no
// keys) and an error for the log, never for the client. A token verified
// before and still cached costs no allocation. token is not retained.
func (p *Provider) Verify(token []byte, now time.Time) (*Result, auth.Reason, error) {
	if len(token) == 0 {
		return nil, auth.Missing, nil
	}
	if len(token) > p.maxLen {
		return nil, auth.Invalid, ErrTooLong
	}
	var h uint64
	if p.cache != nil {
		h = maphash.Bytes(p.seed, token)
		if e, ok := p.cache.Get(h, now.UnixNano()); ok && bytes.Equal(e.token, token) && !e.key.Dropped() {
			return e.result, auth.Allowed, nil
		}
	}
	res, key, reason, err := p.verify(string(token), now)
	if reason != auth.Allowed {
		return nil, reason, err
	}
	if p.cache != nil {
		// Until exp plus the skew: the parser accepts the token until
		// then, so the cache answers exactly as a verification would.
		until := now.Add(noExpiryCacheFor)
		if !res.Expires.IsZero() {
			until = res.Expires.Add(p.s.ClockSkew)
		}
		p.cache.Put(h, &cached{token: bytes.Clone(token), result: res, key: key}, until.UnixNano(), now.UnixNano())
	}
	return res, auth.Allowed, nil
}

// verify is the uncached path: parse, pick the key, check the signature,
// the registered claims and the required ones.
func (p *Provider) verify(token string, now time.Time) (*Result, *jwks.Key, auth.Reason, error) {
	var used *jwks.Key
	keyfunc := func(t *gojwt.Token) (any, error) {
		if _, crit := t.Header["crit"]; crit {
			return nil, ErrCritical
		}
		kid, hasKID := t.Header["kid"].(string)
		if _, present := t.Header["kid"]; present && !hasKID {
			return nil, ErrUnknownKey
		}
		set := p.keys.Current()
		k := set.Find(kid, hasKID)
		if k == nil && (set == nil || hasKID) && p.keys.Refetch(now) {
			set = p.keys.Current()
			k = set.Find(kid, hasKID)
		}
		if k == nil {
			if set == nil {
				return nil, ErrNoKeySet
			}
			return nil, ErrUnknownKey
		}
		if !k.Allows(t.Method.Alg()) {
			return nil, ErrKeyAlg
		}
		used = k
		return k.Public, nil
	}
	opts := append(p.opts[:len(p.opts):len(p.opts)], gojwt.WithTimeFunc(func() time.Time { return now }))
	claims := gojwt.MapClaims{}
	if _, err := gojwt.NewParser(opts...).ParseWithClaims(token, claims, keyfunc); err != nil {
		return nil, nil, reasonOf(err), err
	}
	for _, r := range p.s.RequiredClaims {
		if !holds(lookup(claims, r.Name), r) {
			return nil, nil, auth.Forbidden, fmt.Errorf("%w: %s", ErrClaim, r.Name)
		}
	}
	res := &Result{Claims: make([]string, len(p.s.Claims))}
	res.Subject, _ = claims["sub"].(string)
	for i, name := range p.s.Claims {
		res.Claims[i] = headerValue(lookup(claims, name))
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		res.Expires = exp.Time
	}
	return res, used, auth.Allowed, nil
}

func reasonOf(err error) auth.Reason {
	switch {
	case errors.Is(err, ErrNoKeySet):
		return auth.Unavailable
	case errors.Is(err, gojwt.ErrTokenExpired), errors.Is(err, gojwt.ErrTokenNotValidYet), errors.Is(err, gojwt.ErrTokenUsedBeforeIssued):
		return auth.Expired
	}
	return auth.Invalid
}
