package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Tokens of these tests are minted with go-jose, independently of the
// library the gateway verifies with.

// tokenKey is a private signing key, its kid and algorithm.
type tokenKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv any
	pub  any
}

var (
	tokenKeysOnce sync.Once
	tokenRSA      [2]*rsa.PrivateKey
	tokenEC       *ecdsa.PrivateKey
)

func genTokenKeys() {
	tokenKeysOnce.Do(func() {
		for i := range tokenRSA {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			tokenRSA[i] = k
		}
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tokenEC = k
	})
}

// rsaKey returns RSA key i (0 or 1) under kid.
func rsaKey(i int, kid string) tokenKey {
	genTokenKeys()
	return tokenKey{kid: kid, alg: jose.RS256, priv: tokenRSA[i], pub: &tokenRSA[i].PublicKey}
}

func ecKey(kid string) tokenKey {
	genTokenKeys()
	return tokenKey{kid: kid, alg: jose.ES256, priv: tokenEC, pub: &tokenEC.PublicKey}
}

// sign mints a compact JWS of claims.
func (k tokenKey) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.kid != "" {
		opts = opts.WithHeader("kid", k.kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// publicPEM returns the key's public half in PEM.
func (k tokenKey) publicPEM(t testing.TB) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// noneToken is an unsigned (alg none) token, built by hand.
func noneToken(kid string, claims map[string]any) string {
	head, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT", "kid": kid})
	body, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(head) + "." + base64.RawURLEncoding.EncodeToString(body) + "."
}

// tokenClaims are claims valid for an hour from now.
func tokenClaims(sub string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": "https://idp.test", "aud": "api", "sub": sub,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// jwksServer serves a JWKS on loopback whose keys a test replaces, and
// counts the fetches.
type jwksServer struct {
	url     string
	mu      sync.Mutex
	doc     []byte
	fetches int
}

func startJWKS(t testing.TB, keys ...tokenKey) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.publish(t, keys...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		doc := s.doc
		s.fetches++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.url = "http://" + ln.Addr().String() + "/jwks"
	return s
}

// publish makes keys the served set.
func (s *jwksServer) publish(t testing.TB, keys ...tokenKey) {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.pub, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	doc, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.doc = doc
	s.mu.Unlock()
}

func (s *jwksServer) fetchCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}
