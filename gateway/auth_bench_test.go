package gateway

import (
	"strings"
	"testing"

	"github.com/fastgate/gateway/auth/apikey"
	"github.com/fastgate/gateway/auth/jwt/jwttest"
)

// BenchmarkAuthStep isolates what access control adds to a request: the
// same answer from the gateway itself without it, behind a JWT (cached
// after the first request, as a keep-alive client repeating its token
// is), and behind an API key. The cost of an uncached verification is
// auth/jwt's own benchmark.
func BenchmarkAuthStep(b *testing.B) {
	rsa := jwttest.RSA(0, "rsa")
	pemText := strings.ReplaceAll(strings.TrimSpace(rsa.PublicPEM(b)), "\n", `\n`)
	gw := startGateway(b, strings.NewReplacer("{RSA}", pemText, "{HASH}", apikey.Hash("bench-key")).Replace(`
auth:
  jwt_providers:
    idp: { issuer: https://idp.test, audiences: [api], public_keys: [{ kid: rsa, pem: "{RSA}" }] }
routes:
  - { name: plain, match: { path: /plain }, respond: { body: "hello, world!" } }
  - { name: jwt, match: { path: /jwt }, access: { jwt: { provider: idp } }, respond: { body: "hello, world!" } }
  - { name: key, match: { path: /key }, access: { api_key: { keys: [{ consumer: bench, sha256: {HASH} }] } }, respond: { body: "hello, world!" } }
`))
	token := "Bearer " + rsa.Sign(b, tokenClaims("a"))
	for _, bc := range []struct {
		name, path, header, value string
	}{
		{name: "none", path: "/plain"},
		{name: "jwt-cached", path: "/jwt", header: "Authorization", value: token},
		{name: "api-key", path: "/key", header: "X-Api-Key", value: "bench-key"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := newBenchCtx(bc.path)
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				ctx.Request.Header.Reset()
				ctx.Request.Header.SetMethod("GET")
				ctx.Request.Header.SetHost("bench.local")
				ctx.Request.SetRequestURI(bc.path)
				if bc.header != "" {
					ctx.Request.Header.Set(bc.header, bc.value)
				}
				gw.serve(ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
		})
	}
}
