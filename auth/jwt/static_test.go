package jwt

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/fastgate/gateway/auth"
	"github.com/fastgate/gateway/auth/jwt/jwks"
	"github.com/fastgate/gateway/auth/jwt/jwttest"
)

// TestStaticPEMKeys: a provider configured with public keys in PEM,
// instead of a JWKS URL.
func TestStaticPEMKeys(t *testing.T) {
	now := time.Now()
	rs, es := jwttest.RSA(0, "rsa-1"), jwttest.EC("ec-1")
	pemOf := func(pub any) []byte {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	rk, err := jwks.ParsePEM("rsa-1", "RS256", pemOf(rs.Pub))
	if err != nil {
		t.Fatal(err)
	}
	ek, err := jwks.ParsePEM("ec-1", "", pemOf(es.Pub))
	if err != nil {
		t.Fatal(err)
	}
	src, err := jwks.New(jwks.Settings{PublicKeys: []*jwks.Key{rk, ek}})
	if err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, Settings{Issuer: "https://idp.test"}, src)
	for _, tt := range []struct {
		desc string
		give string
		want auth.Reason
	}{
		{desc: "RSA key by kid", give: rs.Sign(t, claimsAt(now)), want: auth.Allowed},
		{desc: "EC key by kid", give: es.Sign(t, claimsAt(now)), want: auth.Allowed},
		{desc: "PS256 on a key pinned to RS256", give: jwttest.Key{Kid: "rsa-1", Alg: "PS256", Priv: rs.Priv}.Sign(t, claimsAt(now)), want: auth.Invalid},
		{desc: "no kid with two keys", give: jwttest.RSA(0, "").Sign(t, claimsAt(now)), want: auth.Invalid},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if _, reason, err := p.Verify([]byte(tt.give), now); reason != tt.want {
				t.Fatalf("Verify = %v (%v), want %v", reason, err, tt.want)
			}
		})
	}

	single, err := jwks.ParsePEM("", "", pemOf(rs.Pub))
	if err != nil {
		t.Fatal(err)
	}
	one, err := jwks.New(jwks.Settings{PublicKeys: []*jwks.Key{single}})
	if err != nil {
		t.Fatal(err)
	}
	p = newProvider(t, Settings{}, one)
	for _, tok := range []string{jwttest.RSA(0, "").Sign(t, claimsAt(now)), jwttest.RSA(0, "whatever").Sign(t, claimsAt(now))} {
		if _, reason, err := p.Verify([]byte(tok), now); reason != auth.Allowed {
			t.Fatalf("a single static key without an ID refused a token: %v (%v)", reason, err)
		}
	}
}
