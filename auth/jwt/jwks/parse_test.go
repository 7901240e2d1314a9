package jwks

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestParseSetKeepsOnlyUsableSigningKeys(t *testing.T) {
	_, rsaKey := rsaJWK(t, "rsa")
	_, ecKey := ecJWK(t, "ec")
	edKey := edJWK(t, "ed")
	good, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{rsaKey, ecKey, edKey}})
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(good, &set); err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallJWK, _ := json.Marshal(jose.JSONWebKey{Key: &small.PublicKey, KeyID: "small"})
	encKey := rsaKey
	encKey.Use, encKey.KeyID = "enc", "enc"
	encJWK, _ := json.Marshal(encKey)
	mismatch := rsaKey
	mismatch.Algorithm, mismatch.KeyID = "ES256", "mismatch"
	mismatchJWK, _ := json.Marshal(mismatch)
	bad := []string{
		string(smallJWK),
		string(encJWK),
		string(mismatchJWK),
		`{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}`,
		`{"kty":"EC","kid":"short","crv":"P-256","x":"AAAA","y":"AAAA"}`,
		`{"kty":"EC","kid":"k256","crv":"secp256k1","x":"AAAA","y":"AAAA"}`,
		`{"kty":"OKP","kid":"x448","crv":"X448","x":"AAAA"}`,
		`{"kty":"RSA","kid":"hs","alg":"HS256","n":"AAAA","e":"AQAB"}`,
		`{"kty":"RSA","kid":"notb64","n":"!!!","e":"AQAB"}`,
		`{"kty":"RSA","kid":"typ","n":12,"e":"AQAB"}`,
		`"not an object"`,
	}
	raw := make([]string, 0, len(set.Keys)+len(bad))
	for _, k := range set.Keys {
		raw = append(raw, string(k))
	}
	doc := `{"keys":[` + strings.Join(append(raw, bad...), ",") + `]}`
	keys, skipped, err := ParseSet([]byte(doc))
	if err != nil {
		t.Fatalf("ParseSet: %v", err)
	}
	if skipped != len(bad) {
		t.Errorf("skipped %d keys, want %d", skipped, len(bad))
	}
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	if got := strings.Join(ids, ","); got != "rsa,ec,ed" {
		t.Errorf("kept keys %q, want rsa,ec,ed", got)
	}
}

func TestParseSetRefusesDocumentsWithoutUsableKey(t *testing.T) {
	for _, tt := range []struct{ desc, give string }{
		{desc: "not JSON", give: "<html>"},
		{desc: "empty", give: ""},
		{desc: "no keys", give: `{"keys":[]}`},
		{desc: "keys of the wrong type", give: `{"keys":"abc"}`},
		{desc: "only a symmetric key", give: `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`},
		{desc: "nesting bomb", give: `{"keys":[` + strings.Repeat("[", 100000) + `]}`},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if _, _, err := ParseSet([]byte(tt.give)); err == nil {
				t.Fatal("ParseSet accepted the document")
			}
		})
	}
}

func TestKeyAllowsOnlyAlgorithmsOfItsType(t *testing.T) {
	rsaPriv, _ := rsaJWK(t, "r")
	ecPriv, _ := ecJWK(t, "e")
	rk := &Key{Public: &rsaPriv.PublicKey}
	ek := &Key{Public: &ecPriv.PublicKey}
	pinned := &Key{Public: &rsaPriv.PublicKey, Alg: "PS256"}
	for _, tt := range []struct {
		desc string
		key  *Key
		alg  string
		want bool
	}{
		{desc: "RSA RS256", key: rk, alg: "RS256", want: true},
		{desc: "RSA PS512", key: rk, alg: "PS512", want: true},
		{desc: "RSA HS256 (confusion)", key: rk, alg: "HS256"},
		{desc: "RSA none", key: rk, alg: "none"},
		{desc: "RSA ES256", key: rk, alg: "ES256"},
		{desc: "P-256 ES256", key: ek, alg: "ES256", want: true},
		{desc: "P-256 ES384 (wrong curve)", key: ek, alg: "ES384"},
		{desc: "P-256 HS256", key: ek, alg: "HS256"},
		{desc: "pinned PS256", key: pinned, alg: "PS256", want: true},
		{desc: "pinned RS256", key: pinned, alg: "RS256"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if got := tt.key.Allows(tt.alg); got != tt.want {
				t.Fatalf("Allows(%s) = %v, want %v", tt.alg, got, tt.want)
			}
		})
	}
}

func TestFindNeverTriesEveryKey(t *testing.T) {
	a, b := &Key{ID: "a"}, &Key{ID: "b"}
	anon := &Key{}
	two, one, oneAnon := NewSet([]*Key{a, b}), NewSet([]*Key{a}), NewSet([]*Key{anon})
	for _, tt := range []struct {
		desc   string
		set    *Set
		kid    string
		hasKID bool
		want   *Key
	}{
		{desc: "kid found", set: two, kid: "b", hasKID: true, want: b},
		{desc: "kid unknown", set: two, kid: "c", hasKID: true},
		{desc: "no kid, two keys", set: two},
		{desc: "no kid, one key", set: one, want: a},
		{desc: "other kid, one key with an ID", set: one, kid: "x", hasKID: true},
		{desc: "any kid, one key without an ID", set: oneAnon, kid: "x", hasKID: true, want: anon},
		{desc: "nil set", set: nil, kid: "a", hasKID: true},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if got := tt.set.Find(tt.kid, tt.hasKID); got != tt.want {
				t.Fatalf("Find(%q, %v) = %v, want %v", tt.kid, tt.hasKID, got, tt.want)
			}
		})
	}
}

func TestParsePEM(t *testing.T) {
	rsaPriv, _ := rsaJWK(t, "r")
	ecPriv, _ := ecJWK(t, "e")
	pkixPEM := func(pub any) []byte {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecPriv.PublicKey, ecPriv)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaPriv.PublicKey)})
	for _, tt := range []struct {
		desc    string
		alg     string
		give    []byte
		wantErr bool
	}{
		{desc: "PKIX RSA", give: pkixPEM(&rsaPriv.PublicKey)},
		{desc: "PKCS1 RSA", give: pkcs1},
		{desc: "PKIX EC", give: pkixPEM(&ecPriv.PublicKey), alg: "ES256"},
		{desc: "certificate", give: cert},
		{desc: "two blocks", give: append(pkixPEM(&rsaPriv.PublicKey), pkcs1...), wantErr: true},
		{desc: "small RSA", give: pkixPEM(&small.PublicKey), wantErr: true},
		{desc: "P-224", give: pkixPEM(&p224.PublicKey), wantErr: true},
		{desc: "alg of another type", give: pkixPEM(&ecPriv.PublicKey), alg: "RS256", wantErr: true},
		{desc: "private key block", give: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), wantErr: true},
		{desc: "not PEM", give: []byte("hello"), wantErr: true},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := ParsePEM("k", tt.alg, tt.give)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParsePEM error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
