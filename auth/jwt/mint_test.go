package jwt

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/fastgate/gateway/auth/jwt/jwks"
	"github.com/fastgate/gateway/auth/jwt/jwttest"
)

// Tokens are minted with jwttest (go-jose), a library independent of the
// one that verifies them.

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

// jwksKey is s's public half as the key set holds it.
func jwksKey(s jwttest.Key) *jwks.Key { return &jwks.Key{ID: s.Kid, Public: s.Pub} }

func keysOf(ss ...jwttest.Key) staticKeys {
	var keys []*jwks.Key
	for _, s := range ss {
		keys = append(keys, jwksKey(s))
	}
	return staticKeys{set: jwks.NewSet(keys)}
}

// jwksEndpoint is a loopback JWKS server whose keys a test rotates.
type jwksEndpoint struct {
	*httptest.Server
	mu  sync.Mutex
	doc []byte
}

func newJWKSEndpoint(t testing.TB, ss ...jwttest.Key) *jwksEndpoint {
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

func (e *jwksEndpoint) publish(t testing.TB, ss ...jwttest.Key) {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, s := range ss {
		set.Keys = append(set.Keys, s.JWK())
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
