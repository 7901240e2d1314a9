// Package jwttest mints JSON Web Tokens for tests. It signs with go-jose,
// a library independent of the one the gateway verifies with, so that a
// test does not agree with the verifier by sharing its code.
package jwttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// A Key signs tokens: a private key (or an HMAC secret) with its kid and
// algorithm, and its public half.
type Key struct {
	Kid  string
	Alg  jose.SignatureAlgorithm
	Priv any
	Pub  any
}

var (
	keysOnce sync.Once
	rsaKeys  [2]*rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
)

// generate makes the keys once per test binary: RSA keys are slow to make.
func generate() {
	keysOnce.Do(func() {
		for i := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[i] = k
		}
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		ecKey = k
	})
}

// RSA returns RS256 key i (0 or 1: two different keys) under kid.
func RSA(i int, kid string) Key {
	generate()
	return Key{Kid: kid, Alg: jose.RS256, Priv: rsaKeys[i], Pub: &rsaKeys[i].PublicKey}
}

// EC returns an ES256 key (P-256) under kid.
func EC(kid string) Key {
	generate()
	return Key{Kid: kid, Alg: jose.ES256, Priv: ecKey, Pub: &ecKey.PublicKey}
}

// HMAC returns an HS256 key of secret under kid.
func HMAC(kid string, secret []byte) Key {
	return Key{Kid: kid, Alg: jose.HS256, Priv: secret}
}

// Sign mints a compact token of claims (marshalled to JSON, or raw JSON
// as []byte) with typ JWT and the key's kid, if any.
func (k Key) Sign(t testing.TB, claims any) string {
	t.Helper()
	return k.sign(t, (&jose.SignerOptions{}).WithType("JWT"), claims)
}

// SignWithHeader mints claims with one more protected header, name with
// any value, instead of typ.
func (k Key) SignWithHeader(t testing.TB, name string, value any, claims any) string {
	t.Helper()
	return k.sign(t, (&jose.SignerOptions{}).WithHeader(jose.HeaderKey(name), value), claims)
}

func (k Key) sign(t testing.TB, opts *jose.SignerOptions, claims any) string {
	t.Helper()
	if k.Kid != "" {
		opts = opts.WithHeader("kid", k.Kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: k.Priv}, opts)
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

// JWK is the key's public half as a JSON Web Key for signatures.
func (k Key) JWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Pub, KeyID: k.Kid, Algorithm: string(k.Alg), Use: "sig"}
}

// PublicPEM is the key's public half in PEM (PKIX).
func (k Key) PublicPEM(t testing.TB) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Unsigned builds a token with alg none by hand (go-jose refuses to); its
// header names kid, even an empty one.
func Unsigned(kid string, claims map[string]any) string {
	head, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT", "kid": kid})
	body, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(head) + "." + enc.EncodeToString(body) + "."
}
