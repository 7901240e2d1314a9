//go:build !race

package gateway

import (
	"strings"
	"testing"

	"github.com/fastgate/gateway/auth/apikey"
	"github.com/fastgate/gateway/auth/jwt/jwttest"
)

// TestAuthAllocations: an admitted request costs no allocation through the
// gateway with a cached JWT (claims mapped to headers, the rate limit
// keyed on a claim) and with an API key (rate limit per consumer), proxied
// to an upstream, behind CORS and an IP list.
func TestAuthAllocations(t *testing.T) {
	key := jwttest.RSA(0, "k1")
	pemText := strings.ReplaceAll(strings.TrimSpace(key.PublicPEM(t)), "\n", `\n`)
	up := benchUpstream(t, benchBody)
	gw := startGateway(t, strings.NewReplacer("{PEM}", pemText, "{HASH}", apikey.Hash("bench-key")).Replace(`
auth:
  jwt_providers:
    idp: { issuer: https://idp.test, audiences: [api], public_keys: [{ kid: k1, pem: "{PEM}" }] }
routes:
  - name: jwt
    match: { path_prefix: /jwt/ }
    access:
      cors: { allowed_origins: ["https://app.example.com"] }
      ip_allow: [127.0.0.0/8]
      jwt: { provider: idp, claim_headers: { X-User-Id: sub, X-Tenant: tenant } }
    rate_limit: { rate: 1000000, burst: 1000000000, per: "claim:tenant" }
    upstream: { targets: ["{UP1}"] }
  - name: key
    match: { path_prefix: /key/ }
    access:
      api_key: { keys: [{ consumer: bench, sha256: {HASH} }] }
    rate_limit: { rate: 1000000, burst: 1000000000, per: consumer }
    upstream: { targets: ["{UP1}"] }
`), up)
	claims := tokenClaims("alice")
	claims["tenant"] = "acme"
	token := "Bearer " + key.Sign(t, claims)
	for _, tt := range []struct {
		desc, path, header, value string
	}{
		{desc: "cached JWT", path: "/jwt/x", header: "Authorization", value: token},
		{desc: "API key", path: "/key/x", header: "X-Api-Key", value: "bench-key"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			ctx := newBenchCtx(tt.path)
			serve := func() {
				ctx.Response.Reset()
				ctx.Request.Header.Reset()
				ctx.Request.Header.SetMethod("GET")
				ctx.Request.Header.SetHost("bench.local")
				ctx.Request.SetRequestURI(tt.path)
				ctx.Request.Header.Set("Origin", "https://app.example.com")
				ctx.Request.Header.Set(tt.header, tt.value)
				gw.serve(ctx)
				if ctx.Response.StatusCode() != 200 {
					panic("status " + string(ctx.Response.Body()))
				}
				ctx.Response.ResetBody()
			}
			for i := 0; i < 10; i++ {
				serve()
			}
			if n := testing.AllocsPerRun(200, serve); n != 0 {
				t.Errorf("%.1f allocations per admitted request, want 0", n)
			}
		})
	}
}
