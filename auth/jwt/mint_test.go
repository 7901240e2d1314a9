package jwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fastgate/gateway/auth/jwt/jwks"
)

// Tokens are minted with go-jose, a library independent of the one that
// verifies them.

// signer is a private key with its kid and algorithm.
type signer struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv any
	pub  any
}

var (
	keyOnce  sync.Once
	rsaPriv  *rsa.PrivateKey
	rsaPriv2 *rsa.PrivateKey
	ecPriv   *ecdsa.PrivateKey
)

// testKeys generates the keys once per test binary (RSA is slow).
func testKeys(t testing.TB) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if rsaPriv, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rsaPriv2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecPriv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
}

func rsaSigner(t testing.TB, kid string) signer {
	testKeys(t)
	return signer{kid: kid, alg: jose.RS256, priv: rsaPriv, pub: &rsaPriv.PublicKey}
}

func rsaSigner2(t testing.TB, kid string) signer {
	testKeys(t)
	return signer{kid: kid, alg: jose.RS256, priv: rsaPriv2, pub: &rsaPriv2.PublicKey}
}

func ecSigner(t testing.TB, kid string) signer {
	testKeys(t)
	return signer{kid: kid, alg: jose.ES256, priv: ecPriv, pub: &ecPriv.PublicKey}
}

func (s signer) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: s.pub, KeyID: s.kid, Algorithm: string(s.alg), Use: "sig"}
}

func (s signer) key() *jwks.Key { return &jwks.Key{ID: s.kid, Public: s.pub} }

// mint signs claims (a map marshalled to JSON, or raw JSON bytes).
func (s signer) mint(t testing.TB, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if s.kid != "" {
		opts = opts.WithHeader("kid", s.kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: s.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, ok := claims.([]byte)
	if !ok {
		if payload, err = json.Marshal(claims); err != nil {
			t.Fatal(err)
		}
	}
	obj, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// hmacToken signs claims with HS256 and secret, under kid.
func hmacToken(t testing.TB, kid string, secret []byte, claims map[string]any) string {
	t.Helper()
	s := signer{kid: kid, alg: jose.HS256, priv: secret}
	return s.mint(t, claims)
}

// unsignedToken builds an alg=none token by hand (go-jose refuses to).
func unsignedToken(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	head, _ := json.Marshal(map[string]any{"alg": "none", "kid": kid, "typ": "JWT"})
	body, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(head) + "." + enc.EncodeToString(body) + "."
}

// claimsAt returns standard claims valid from now for an hour.
func claimsAt(now time.Time) map[string]any {
	return map[string]any{
		"iss": "https://idp.test",
		"sub": "user-1",
		"aud": "api",
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// staticKeys is a KeySource of fixed keys.
type staticKeys struct{ set *jwks.Set }

func (s staticKeys) Current() *jwks.Set     { return s.set }
func (s staticKeys) Refetch(time.Time) bool { return false }

func keysOf(ss ...signer) staticKeys {
	var keys []*jwks.Key
	for _, s := range ss {
		keys = append(keys, s.key())
	}
	return staticKeys{set: jwks.NewSet(keys)}
}

// jwksEndpoint is a loopback JWKS server whose keys a test rotates.
type jwksEndpoint struct {
	*httptest.Server
	mu  sync.Mutex
	doc []byte
}

func newJWKSEndpoint(t testing.TB, ss ...signer) *jwksEndpoint {
	t.Helper()
	e := &jwksEndpoint{}
	e.publish(t, ss...)
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		e.mu.Lock()
		doc := e.doc
		e.mu.Unlock()
		_, _ = w.Write(doc)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *jwksEndpoint) publish(t testing.TB, ss ...signer) {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, s := range ss {
		set.Keys = append(set.Keys, s.jwk())
	}
	doc, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.doc = doc
	e.mu.Unlock()
}

func urlSource(t testing.TB, url string, s jwks.Settings) *jwks.Source {
	t.Helper()
	s.URL = url
	src, err := jwks.New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

func newProvider(t testing.TB, s Settings, keys KeySource) *Provider {
	t.Helper()
	p, err := New(s, keys)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// withHeader mints claims with one extra protected header (any value).
func (s signer) withHeader(t testing.TB, name string, value any, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader(jose.HeaderKey(name), value)
	if s.kid != "" {
		opts = opts.WithHeader("kid", s.kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: s.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
