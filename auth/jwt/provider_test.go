package jwt

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastgate/gateway/auth"
	"github.com/fastgate/gateway/auth/jwt/jwks"
	"github.com/fastgate/gateway/auth/jwt/jwttest"
)

func with(base map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(base)+len(kv)/2)
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestVerifyRefusals(t *testing.T) {
	now := time.Now()
	rs := jwttest.RSA(0, "rsa")
	es := jwttest.EC("ec")
	keys := keysOf(rs, es)
	good := claimsAt(now)
	rsaPEM, err := x509.MarshalPKIXPublicKey(rs.Pub)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPEM})
	valid := rs.Sign(t, good)
	parts := strings.Split(valid, ".")
	enc := base64.RawURLEncoding
	bomb := []byte(`{"sub":"x","exp":` + itoa(now.Add(time.Hour).Unix()) + `,"deep":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`)
	hugeBomb := []byte(`{"sub":"x","deep":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`)

	for _, tt := range []struct {
		desc     string
		settings Settings
		give     string
		want     auth.Reason
	}{
		{desc: "valid RS256", give: valid, want: auth.Allowed},
		{desc: "valid ES256", give: es.Sign(t, good), want: auth.Allowed},
		{desc: "empty", give: "", want: auth.Missing},
		{desc: "bad base64 in the header", give: "%%%." + parts[1] + "." + parts[2], want: auth.Invalid},
		{desc: "bad base64 in the signature", give: parts[0] + "." + parts[1] + ".***", want: auth.Invalid},
		{desc: "non-canonical base64 (unused bits set)", give: parts[0] + "." + parts[1] + "." + flipUnusedBits(parts[2]), want: auth.Invalid},
		{desc: "truncated", give: valid[:len(valid)-10], want: auth.Invalid},
		{desc: "two parts", give: parts[0] + "." + parts[1], want: auth.Invalid},
		{desc: "payload swapped", give: parts[0] + "." + enc.EncodeToString([]byte(`{"sub":"admin","exp":9999999999}`)) + "." + parts[2], want: auth.Invalid},
		{desc: "100 KB token", give: valid + strings.Repeat("A", 100<<10), want: auth.Invalid},
		{desc: "header not JSON", give: enc.EncodeToString([]byte("{{{")) + "." + parts[1] + "." + parts[2], want: auth.Invalid},
		{desc: "nested JSON in claims, signed", give: rs.Sign(t, bomb), want: auth.Allowed},
		{desc: "nesting bomb in claims", settings: Settings{MaxTokenBytes: 1 << 20}, give: rs.Sign(t, hugeBomb), want: auth.Invalid},
		{desc: "exp a string", give: rs.Sign(t, with(good, "exp", "tomorrow")), want: auth.Invalid},
		{desc: "exp an object", give: rs.Sign(t, with(good, "exp", map[string]any{"a": 1})), want: auth.Invalid},
		{desc: "aud a number", settings: Settings{Audiences: []string{"api"}}, give: rs.Sign(t, with(good, "aud", 42)), want: auth.Invalid},
		{desc: "aud an object", settings: Settings{Audiences: []string{"api"}}, give: rs.Sign(t, with(good, "aud", map[string]any{"x": "api"})), want: auth.Invalid},
		{desc: "no exp", give: rs.Sign(t, with(good, "exp", nil)), want: auth.Invalid},
		{desc: "no exp, allowed by the provider", settings: Settings{ExpirationOptional: true}, give: rs.Sign(t, with(good, "exp", nil)), want: auth.Allowed},
		{desc: "expired", give: rs.Sign(t, with(good, "exp", now.Add(-time.Minute).Unix())), want: auth.Expired},
		{desc: "expired within the skew", settings: Settings{ClockSkew: 2 * time.Minute}, give: rs.Sign(t, with(good, "exp", now.Add(-time.Minute).Unix())), want: auth.Allowed},
		{desc: "not valid yet", give: rs.Sign(t, with(good, "nbf", now.Add(time.Minute).Unix())), want: auth.Expired},
		{desc: "issuer matches", settings: Settings{Issuer: "https://idp.test"}, give: valid, want: auth.Allowed},
		{desc: "wrong issuer", settings: Settings{Issuer: "https://other.test"}, give: valid, want: auth.Invalid},
		{desc: "no issuer", settings: Settings{Issuer: "https://idp.test"}, give: rs.Sign(t, with(good, "iss", nil)), want: auth.Invalid},
		{desc: "audience any-of", settings: Settings{Audiences: []string{"web", "api"}}, give: valid, want: auth.Allowed},
		{desc: "audience any-of, none", settings: Settings{Audiences: []string{"web"}}, give: valid, want: auth.Invalid},
		{desc: "audience all-of", settings: Settings{Audiences: []string{"web", "api"}, AllAudiences: true}, give: rs.Sign(t, with(good, "aud", []string{"api", "web", "x"})), want: auth.Allowed},
		{desc: "audience all-of, one missing", settings: Settings{Audiences: []string{"web", "api"}, AllAudiences: true}, give: valid, want: auth.Invalid},
		{desc: "alg none", give: jwttest.Unsigned("rsa", good), want: auth.Invalid},
		{desc: "alg none, no kid", settings: Settings{}, give: jwttest.Unsigned("", good), want: auth.Invalid},
		{desc: "HS256 signed with the RSA public key (confusion)", give: jwttest.HMAC("rsa", pubPEM).Sign(t, good), want: auth.Invalid},
		{desc: "HS256 signed with the DER public key (confusion)", give: jwttest.HMAC("rsa", rsaPEM).Sign(t, good), want: auth.Invalid},
		{desc: "RS256 header on the EC key", give: jwttest.Key{Kid: "ec", Alg: rs.Alg, Priv: rs.Priv}.Sign(t, good), want: auth.Invalid},
		{desc: "algorithm not allowed by the provider", settings: Settings{Algorithms: []string{"ES256"}}, give: valid, want: auth.Invalid},
		{desc: "PS256 on an RS256-only provider", settings: Settings{Algorithms: []string{"RS256"}}, give: jwttest.Key{Kid: "rsa", Alg: "PS256", Priv: rs.Priv}.Sign(t, good), want: auth.Invalid},
		{desc: "unsupported algorithm", give: jwttest.Key{Kid: "rsa", Alg: "HS512", Priv: []byte(strings.Repeat("k", 64))}.Sign(t, good), want: auth.Invalid},
		{desc: "unknown kid", give: jwttest.RSA(0, "other").Sign(t, good), want: auth.Invalid},
		{desc: "kid not a string", give: jwttest.Key{Kid: "", Alg: rs.Alg, Priv: rs.Priv}.SignWithHeader(t, "kid", 7, good), want: auth.Invalid},
		{desc: "critical extension", give: rs.SignWithHeader(t, "crit", []string{"exp"}, good), want: auth.Invalid},
		{desc: "no kid, two keys", give: jwttest.RSA(0, "").Sign(t, good), want: auth.Invalid},
		{desc: "signed by another key under a known kid", give: jwttest.RSA(1, "rsa").Sign(t, good), want: auth.Invalid},
		{desc: "scope holds read", settings: Settings{RequiredClaims: []ClaimRule{{Name: "scope", AnyOf: []string{"read"}}}}, give: rs.Sign(t, with(good, "scope", "write read")), want: auth.Allowed},
		{desc: "scope lacks read", settings: Settings{RequiredClaims: []ClaimRule{{Name: "scope", AnyOf: []string{"read"}}}}, give: rs.Sign(t, with(good, "scope", "write")), want: auth.Forbidden},
		{desc: "no scope", settings: Settings{RequiredClaims: []ClaimRule{{Name: "scope", AnyOf: []string{"read"}}}}, give: valid, want: auth.Forbidden},
		{desc: "roles hold all", settings: Settings{RequiredClaims: []ClaimRule{{Name: "roles", AllOf: []string{"a", "b"}}}}, give: rs.Sign(t, with(good, "roles", []string{"b", "a"})), want: auth.Allowed},
		{desc: "roles lack one", settings: Settings{RequiredClaims: []ClaimRule{{Name: "roles", AllOf: []string{"a", "b"}}}}, give: rs.Sign(t, with(good, "roles", []string{"a"})), want: auth.Forbidden},
		{desc: "nested roles", settings: Settings{RequiredClaims: []ClaimRule{{Name: "realm_access.roles", AnyOf: []string{"admin"}}}}, give: rs.Sign(t, with(good, "realm_access", map[string]any{"roles": []string{"user", "admin"}})), want: auth.Allowed},
		{desc: "nested roles lack", settings: Settings{RequiredClaims: []ClaimRule{{Name: "realm_access.roles", AnyOf: []string{"admin"}}}}, give: rs.Sign(t, with(good, "realm_access", map[string]any{"roles": []string{"user"}})), want: auth.Forbidden},
		{desc: "nested path through a string", settings: Settings{RequiredClaims: []ClaimRule{{Name: "sub.x"}}}, give: valid, want: auth.Forbidden},
		{desc: "claim present", settings: Settings{RequiredClaims: []ClaimRule{{Name: "email_verified", AnyOf: []string{"true"}}}}, give: rs.Sign(t, with(good, "email_verified", true)), want: auth.Allowed},
		{desc: "expected value", settings: Settings{RequiredClaims: []ClaimRule{{Name: "tenant", AnyOf: []string{"acme", "globex"}}}}, give: rs.Sign(t, with(good, "tenant", "initech")), want: auth.Forbidden},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			p := newProvider(t, tt.settings, keys)
			res, reason, err := p.Verify([]byte(tt.give), now)
			if reason != tt.want {
				t.Fatalf("Verify = %v (%v), want %v", reason, err, tt.want)
			}
			if (res != nil) != (reason == auth.Allowed) {
				t.Fatalf("result %v with reason %v", res, reason)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestVerifyRefusesCriticalExtensions(t *testing.T) {
	now := time.Now()
	rs := jwttest.RSA(0, "rsa")
	p := newProvider(t, Settings{}, keysOf(rs))
	if _, reason, err := p.Verify([]byte(rs.SignWithHeader(t, "typ", "JWT", claimsAt(now))), now); reason != auth.Allowed {
		t.Fatalf("the same token without crit: %v (%v)", reason, err)
	}
	_, reason, err := p.Verify([]byte(rs.SignWithHeader(t, "crit", []string{"exp"}, claimsAt(now))), now)
	if reason != auth.Invalid || !errors.Is(err, ErrCritical) {
		t.Fatalf("a token with crit: %v (%v), want invalid with ErrCritical", reason, err)
	}
}

func TestVerifyWithoutKIDOnlyFromASingleKeyProvider(t *testing.T) {
	now := time.Now()
	anon := jwttest.RSA(0, "")
	p := newProvider(t, Settings{}, keysOf(anon))
	if _, reason, err := p.Verify([]byte(anon.Sign(t, claimsAt(now))), now); reason != auth.Allowed {
		t.Fatalf("a token without kid against one key: %v (%v)", reason, err)
	}
	two := newProvider(t, Settings{}, keysOf(jwttest.RSA(0, "a"), jwttest.EC("b")))
	_, reason, err := two.Verify([]byte(jwttest.RSA(0, "").Sign(t, claimsAt(now))), now)
	if reason != auth.Invalid || !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("a token without kid against two keys: %v (%v), want invalid with ErrUnknownKey", reason, err)
	}
}

func TestVerifyReturnsTheChosenClaims(t *testing.T) {
	now := time.Now()
	rs := jwttest.RSA(0, "rsa")
	p := newProvider(t, Settings{Claims: []string{"sub", "email", "roles", "level", "org", "evil", "absent", "org.id"}}, keysOf(rs))
	tok := rs.Sign(t, with(claimsAt(now),
		"email", "u@example.com",
		"roles", []string{"admin", "dev"},
		"level", 3,
		"org", map[string]any{"id": "o1"},
		"evil", "x\r\nX-Admin: 1",
	))
	res, reason, err := p.Verify([]byte(tok), now)
	if reason != auth.Allowed {
		t.Fatalf("Verify: %v (%v)", reason, err)
	}
	want := []string{"user-1", "u@example.com", "admin,dev", "3", `{"id":"o1"}`, "", "", "o1"}
	if strings.Join(res.Claims, "|") != strings.Join(want, "|") {
		t.Fatalf("Claims = %q, want %q", res.Claims, want)
	}
	if res.Subject != "user-1" || res.Expires.Unix() != now.Add(time.Hour).Unix() {
		t.Fatalf("Subject %q, Expires %v", res.Subject, res.Expires)
	}
}

func TestCacheServesOnlyTheSameTokenUntilItsExpiry(t *testing.T) {
	now := time.Now()
	rs := jwttest.RSA(0, "rsa")
	p := newProvider(t, Settings{}, keysOf(rs))
	tok := []byte(rs.Sign(t, with(claimsAt(now), "exp", now.Add(time.Minute).Unix())))
	first, _, _ := p.Verify(tok, now)
	again, reason, _ := p.Verify(tok, now.Add(time.Second))
	if first == nil || again != first || reason != auth.Allowed {
		t.Fatal("the repeated token was not served from the cache")
	}
	changed := append([]byte(nil), tok...)
	changed[len(changed)-2] ^= 1
	if _, reason, _ := p.Verify(changed, now); reason != auth.Invalid {
		t.Fatalf("a changed token: %v, want invalid", reason)
	}
	if _, reason, _ := p.Verify(tok, now.Add(2*time.Minute)); reason != auth.Expired {
		t.Fatalf("the cached token after its exp: %v, want expired", reason)
	}
}

func TestCacheHonoursTheClockSkew(t *testing.T) {
	now := time.Now()
	rs := jwttest.RSA(0, "rsa")
	p := newProvider(t, Settings{ClockSkew: 30 * time.Second}, keysOf(rs))
	tok := []byte(rs.Sign(t, with(claimsAt(now), "exp", now.Add(time.Minute).Unix())))
	first, _, _ := p.Verify(tok, now)
	within, reason, _ := p.Verify(tok, now.Add(80*time.Second))
	if first == nil || within != first || reason != auth.Allowed {
		t.Fatalf("within the skew after exp: %v, want the cached result", reason)
	}
	if _, reason, _ := p.Verify(tok, now.Add(91*time.Second)); reason != auth.Expired {
		t.Fatalf("past exp and skew: %v, want expired", reason)
	}
}

func TestCacheForgetsTokensOfADroppedKey(t *testing.T) {
	now := time.Now()
	old, next := jwttest.RSA(0, "old"), jwttest.EC("new")
	ep := newJWKSEndpoint(t, old)
	src := urlSource(t, ep.URL, jwks.Settings{MinRefetchInterval: time.Millisecond})
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, Settings{}, src)
	tok := []byte(old.Sign(t, claimsAt(now)))
	if _, reason, _ := p.Verify(tok, now); reason != auth.Allowed {
		t.Fatalf("before the rotation: %v", reason)
	}
	ep.publish(t, next)
	src.Refetch(now.Add(time.Second))
	if _, reason, err := p.Verify(tok, now.Add(2*time.Second)); reason != auth.Invalid {
		t.Fatalf("a cached token whose key left the set: %v (%v), want invalid", reason, err)
	}
}

func TestUnavailableWithoutKeys(t *testing.T) {
	now := time.Now()
	rs := jwttest.RSA(0, "rsa")
	src := urlSource(t, "http://127.0.0.1:1/jwks", jwks.Settings{Timeout: time.Second})
	if err := src.Start(); err == nil {
		t.Fatal("Start reached a closed port")
	}
	p := newProvider(t, Settings{}, src)
	if _, reason, err := p.Verify([]byte(rs.Sign(t, claimsAt(now))), now); reason != auth.Unavailable {
		t.Fatalf("Verify without keys: %v (%v), want unavailable", reason, err)
	}
}

// TestRotationRefusesNoValidToken: while the issuer publishes a new key
// and starts signing with it, every token of either key stays accepted,
// and the unknown kid costs one fetch, not one per request.
func TestRotationRefusesNoValidToken(t *testing.T) {
	now := time.Now()
	k1, k2 := jwttest.RSA(0, "k1"), jwttest.EC("k2")
	ep := newJWKSEndpoint(t, k1)
	src := urlSource(t, ep.URL, jwks.Settings{MinRefetchInterval: time.Hour})
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, Settings{CacheSize: -1}, src)
	old := []byte(k1.Sign(t, claimsAt(now)))
	ep.publish(t, k1, k2) // the issuer publishes k2, then signs with it
	fresh := []byte(k2.Sign(t, claimsAt(now)))

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				tok := old
				if (g+i)%2 == 0 {
					tok = fresh
				}
				if _, reason, err := p.Verify(tok, now); reason != auth.Allowed {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a valid token was refused during the rotation: %v", err)
	}
	if st := src.Stats(); st.Successes != 2 {
		t.Fatalf("%d fetches, want 2 (start and one refetch for k2)", st.Successes)
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	keys := keysOf(jwttest.RSA(0, "a"))
	for _, tt := range []struct {
		desc string
		give Settings
		keys KeySource
	}{
		{desc: "no keys", give: Settings{}},
		{desc: "HS256", give: Settings{Algorithms: []string{"HS256"}}, keys: keys},
		{desc: "none", give: Settings{Algorithms: []string{"none"}}, keys: keys},
		{desc: "negative skew", give: Settings{ClockSkew: -time.Second}, keys: keys},
		{desc: "unnamed claim", give: Settings{RequiredClaims: []ClaimRule{{AnyOf: []string{"x"}}}}, keys: keys},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if _, err := New(tt.give, tt.keys); err == nil {
				t.Fatal("New accepted the settings")
			}
		})
	}
}

// flipUnusedBits sets the low bits of a raw base64url string's last
// character that encode no data: the same bytes, written differently.
func flipUnusedBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(s)%4 == 0 || len(s)%4 == 1 {
		panic("no unused bits in a string of this length")
	}
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i|1])
}
