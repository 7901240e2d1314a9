package gateway

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/auth"
	"github.com/fastgate/gateway/auth/jwt/jwttest"
	"github.com/fastgate/gateway/metrics"
)

// echoUpstream answers 200 and reports, in X-Got-* headers, the identity
// headers and the credential it received.
func echoUpstream(t testing.TB) string {
	t.Helper()
	return startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		h := &ctx.Request.Header
		for _, name := range []string{"X-User-Id", "X-Tenant", "X-Consumer", "Authorization", "X-Api-Key", "X-Auth-User"} {
			if v := h.Peek(name); v != nil {
				ctx.Response.Header.Set("X-Got-"+name, string(v))
			}
		}
		ctx.SetBodyString("ok")
	})
}

const jwtRoutes = `
auth:
  jwt_providers:
    idp:
      issuer: https://idp.test
      jwks_url: {JWKS}
      audiences: [api]
      min_refetch_interval: 100ms
routes:
  - name: jwt
    match: { path_prefix: /jwt }
    access:
      jwt:
        provider: idp
        claim_headers: { X-User-Id: sub, X-Tenant: tenant }
    upstream: { targets: ["{UP1}"] }
  - name: admin
    match: { path_prefix: /admin }
    access:
      jwt: { provider: idp, required_claims: [{ name: scope, any_of: [admin] }] }
    upstream: { targets: ["{UP1}"] }
  - name: jwt-forward
    match: { path_prefix: /fwd }
    access:
      jwt: { provider: idp, from: "header:X-Token" }
      forward_credentials: true
    upstream: { targets: ["{UP1}"] }
`

func startJWTGateway(t *testing.T, keys ...jwttest.Key) (*testGateway, *jwksServer) {
	t.Helper()
	js := startJWKS(t, keys...)
	gw := startGateway(t, strings.ReplaceAll(jwtRoutes, "{JWKS}", js.url), echoUpstream(t))
	return gw, js
}

// Every way a token can be refused, and the admitted one: the status, the
// challenge, and that the answer does not say which part failed.
func TestJWTRefusals(t *testing.T) {
	key := jwttest.RSA(0, "k1")
	gw, _ := startJWTGateway(t, key, jwttest.EC("k2"))
	other := jwttest.RSA(1, "k1") // same kid, a key the provider does not have
	valid := key.Sign(t, tokenClaims("alice"))
	with := func(mod func(map[string]any)) string {
		c := tokenClaims("alice")
		mod(c)
		return key.Sign(t, c)
	}
	// HMAC confusion: an HS256 token whose secret is the public key the
	// provider verifies RS256 with.
	hmac := jwttest.HMAC("k1", []byte(key.PublicPEM(t)))
	tests := []struct {
		desc      string
		path      string
		header    string // Authorization
		want      int
		challenge string
	}{
		{desc: "valid RS256", path: "/jwt", header: "Bearer " + valid, want: 200},
		{desc: "valid ES256", path: "/jwt", header: "Bearer " + jwttest.EC("k2").Sign(t, tokenClaims("alice")), want: 200},
		{desc: "missing", path: "/jwt", want: 401, challenge: `Bearer realm="gateway"`},
		{desc: "another scheme", path: "/jwt", header: "Basic YTpi", want: 401, challenge: `Bearer realm="gateway"`},
		{desc: "malformed", path: "/jwt", header: "Bearer not.a.token", want: 401, challenge: `error="invalid_token"`},
		{desc: "bad base64", path: "/jwt", header: "Bearer " + valid[:10] + "!" + valid[11:], want: 401, challenge: "invalid_token"},
		{desc: "truncated", path: "/jwt", header: "Bearer " + valid[:len(valid)-5], want: 401, challenge: "invalid_token"},
		{desc: "7 KB token", path: "/jwt", header: "Bearer " + strings.Repeat("a", 7<<10), want: 401, challenge: "invalid_token"},
		// Past server.max_header_bytes the listener refuses it unread.
		{desc: "100 KB token", path: "/jwt", header: "Bearer " + strings.Repeat("a", 100<<10), want: 431},
		{desc: "expired", path: "/jwt", header: "Bearer " + with(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), want: 401, challenge: "invalid_token"},
		{desc: "no exp", path: "/jwt", header: "Bearer " + with(func(c map[string]any) { delete(c, "exp") }), want: 401},
		{desc: "exp of the wrong type", path: "/jwt", header: "Bearer " + with(func(c map[string]any) { c["exp"] = "tomorrow" }), want: 401},
		{desc: "wrong audience", path: "/jwt", header: "Bearer " + with(func(c map[string]any) { c["aud"] = "other" }), want: 401},
		{desc: "wrong issuer", path: "/jwt", header: "Bearer " + with(func(c map[string]any) { c["iss"] = "https://evil.test" }), want: 401},
		{desc: "alg none", path: "/jwt", header: "Bearer " + jwttest.Unsigned("k1", tokenClaims("alice")), want: 401},
		{desc: "HMAC confusion", path: "/jwt", header: "Bearer " + hmac.Sign(t, tokenClaims("alice")), want: 401},
		{desc: "signed by another key", path: "/jwt", header: "Bearer " + other.Sign(t, tokenClaims("alice")), want: 401},
		{desc: "unknown kid", path: "/jwt", header: "Bearer " + jwttest.RSA(1, "k9").Sign(t, tokenClaims("alice")), want: 401},
		{desc: "required claim missing", path: "/admin", header: "Bearer " + valid, want: 403},
		{desc: "required claim held", path: "/admin", header: "Bearer " + with(func(c map[string]any) { c["scope"] = "read admin" }), want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.header != "" {
				hdr["Authorization"] = tt.header
			}
			resp := gw.do(t, "GET", tt.path, hdr, "")
			if resp.StatusCode() != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode(), tt.want, resp.Body())
			}
			if tt.want == 200 {
				return
			}
			ch := string(resp.Header.Peek("WWW-Authenticate"))
			if tt.want == 401 && !strings.Contains(ch, tt.challenge) {
				t.Errorf("WWW-Authenticate %q, want it to hold %q", ch, tt.challenge)
			}
			body := string(resp.Body())
			if !strings.HasPrefix(body, `{"error":"`) || strings.Contains(body, "kid") || strings.Contains(body, "exp") || strings.Contains(body, "aud") {
				t.Errorf("body %q: want the gateway's JSON error saying nothing of the token", body)
			}
		})
	}
	if got := gw.metric(t, `gateway_auth_requests_total{result="allowed",route="jwt"}`); got < 2 {
		t.Errorf("allowed count %v, want at least 2", got)
	}
	if got := gw.metric(t, `gateway_auth_requests_total{result="expired",route="jwt"}`); got != 1 {
		t.Errorf("expired count %v, want 1", got)
	}
	if got := gw.metric(t, `gateway_auth_requests_total{result="forbidden",route="admin"}`); got != 1 {
		t.Errorf("forbidden count %v, want 1", got)
	}
}

// Claims become headers, inbound copies of them are removed, the token is
// stripped unless the route forwards it, and the consumer header names
// the subject.
func TestJWTClaimHeaders(t *testing.T) {
	key := jwttest.RSA(0, "k1")
	gw, _ := startJWTGateway(t, key)
	c := tokenClaims("alice")
	c["tenant"] = "acme"
	tok := key.Sign(t, c)
	resp := gw.do(t, "GET", "/jwt", map[string]string{"Authorization": "Bearer " + tok, "X-User-Id": "forged", "X-Consumer": "forged"}, "")
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
	}
	for name, want := range map[string]string{"X-User-Id": "alice", "X-Tenant": "acme", "X-Consumer": "alice", "Authorization": ""} {
		if got := string(resp.Header.Peek("X-Got-" + name)); got != want {
			t.Errorf("upstream got %s %q, want %q", name, got, want)
		}
	}
	// A forged claim header without a claim to replace it is removed too.
	resp = gw.do(t, "GET", "/jwt", map[string]string{"Authorization": "Bearer " + key.Sign(t, tokenClaims("bob")), "X-Tenant": "forged"}, "")
	if got := string(resp.Header.Peek("X-Got-X-Tenant")); got != "" {
		t.Errorf("upstream got X-Tenant %q, want none", got)
	}
	resp = gw.do(t, "GET", "/fwd", map[string]string{"X-Token": tok}, "")
	if resp.StatusCode() != 200 {
		t.Fatalf("token from a named header: status %d", resp.StatusCode())
	}
}

// The provider's keys rotate while requests flow: the JWKS publishes the
// new key beside the old one, then tokens are signed with the new key
// only. A token naming the new kid makes the gateway fetch the set again
// (at most once per min_refetch_interval), so no request is refused.
func TestJWKSRotationUnderLoad(t *testing.T) {
	oldKey, newKey := jwttest.RSA(0, "old"), jwttest.RSA(1, "new")
	gw, js := startJWTGateway(t, oldKey)
	const workers, perWorker, rotateAt = 4, 75, 100
	var tokens [2][]string
	for i := 0; i < 10; i++ {
		sub := "user-" + string(rune('a'+i))
		tokens[0] = append(tokens[0], oldKey.Sign(t, tokenClaims(sub)))
		tokens[1] = append(tokens[1], newKey.Sign(t, tokenClaims(sub)))
	}
	var (
		mu      sync.Mutex
		done    int
		current int // index into tokens
		refused []string
	)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &fasthttp.Client{MaxIdemponentCallAttempts: 1, ReadTimeout: 10 * time.Second}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			for i := 0; i < perWorker; i++ {
				mu.Lock()
				if done == rotateAt {
					js.publish(t, oldKey, newKey)
					current = 1
				}
				done++
				tok := tokens[current][(done)%len(tokens[current])]
				mu.Unlock()
				req.SetRequestURI("http://" + gw.addr + "/jwt")
				req.Header.Set("Authorization", "Bearer "+tok)
				if err := c.Do(req, resp); err != nil {
					mu.Lock()
					refused = append(refused, err.Error())
					mu.Unlock()
					continue
				}
				if resp.StatusCode() != 200 {
					mu.Lock()
					refused = append(refused, string(resp.Body()))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(refused) > 0 {
		t.Fatalf("%d of %d requests refused across the rotation, e.g. %s", len(refused), workers*perWorker, refused[0])
	}
	if n := js.fetchCount(); n < 2 || n > 4 {
		t.Errorf("%d JWKS fetches, want the first and one (or a few) for the new kid", n)
	}
	if got := gw.metric(t, `gateway_jwks_refreshes_total{provider="idp",result="success"}`); got < 2 {
		t.Errorf("gateway_jwks_refreshes_total success = %v, want at least 2", got)
	}
	if got := gw.metric(t, `gateway_jwks_keys{provider="idp"}`); got != 2 {
		t.Errorf("gateway_jwks_keys = %v, want 2", got)
	}
}

// The access step counts a refusal reason as the metric's result of the
// same name: the two enumerations are in the same order.
func TestAuthReasonsAreMetricResults(t *testing.T) {
	for r := auth.Allowed; r <= auth.Unavailable; r++ {
		if got := metrics.AuthResult(r).String(); got != r.String() {
			t.Errorf("reason %s counts as result %s", r, got)
		}
	}
}
