package jwt

import (
	"bytes"
	"testing"
	"time"

	"github.com/fastgate/gateway/auth"
	"github.com/fastgate/gateway/auth/jwt/jwttest"
)

// FuzzVerify: whatever the bytes, Verify neither panics nor admits
// anything but the one genuine token of the corpus.
func FuzzVerify(f *testing.F) {
	now := time.Now()
	rs := jwttest.RSA(0, "rsa")
	genuine := []byte(rs.Sign(f, claimsAt(now)))
	f.Add(genuine)
	f.Add([]byte(jwttest.Unsigned("rsa", claimsAt(now))))
	f.Add([]byte("eyJhbGciOiJSUzI1NiJ9.e30."))
	f.Add([]byte("..."))
	p := newProvider(f, Settings{}, keysOf(rs))
	f.Fuzz(func(t *testing.T, token []byte) {
		_, reason, _ := p.Verify(token, now)
		if reason == auth.Allowed && !bytes.Equal(token, genuine) {
			t.Fatalf("admitted a token that is not the genuine one: %q", token)
		}
	})
}
