package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/auth/apikey"
	"github.com/fastgate/gateway/auth/jwt/jwttest"
	"github.com/fastgate/gateway/config"
)

func keySourceCount(gw *testGateway) int {
	gw.deps.keys.mu.Lock()
	defer gw.deps.keys.mu.Unlock()
	return len(gw.deps.keys.sources)
}

// A provider's key source starts with the gateway, is kept (not fetched
// again) by reloads that keep its key settings, even when its routes
// change, and stops once no route uses the provider.
func TestJWKSAcrossReloads(t *testing.T) {
	key := jwttest.RSA(0, "k1")
	js := startJWKS(t, key)
	up := echoUpstream(t)
	base := strings.NewReplacer("{JWKS}", js.url, "{UP1}", up).Replace(`
auth:
  jwt_providers:
    idp: { issuer: https://idp.test, jwks_url: {JWKS}, audiences: [api] }
routes:
  - name: jwt
    match: { path_prefix: /jwt }
    access: { jwt: { provider: idp {EXTRA} } }
    upstream: { targets: ["{UP1}"], timeout: 100ms }
  - name: other
    match: { path: /other }
    respond: { body: {BODY} }
`)
	parse := func(extra, body string) *config.Config {
		t.Helper()
		cfg, err := config.Parse([]byte(strings.NewReplacer("{EXTRA}", extra, "{BODY}", body).Replace(base)), "test.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	gw := serveConfig(t, parse("", "a"))
	tok := "Bearer " + key.Sign(t, tokenClaims("alice"))
	check := func(want int) {
		t.Helper()
		if s := gw.do(t, "GET", "/jwt", map[string]string{"Authorization": tok}, "").StatusCode(); s != want {
			t.Fatalf("status %d, want %d", s, want)
		}
	}
	check(200)
	if n := js.fetchCount(); n != 1 {
		t.Fatalf("%d fetches at start, want 1", n)
	}
	// Another route changes; then the JWT route itself, not its provider.
	for _, cfg := range []*config.Config{parse("", "b"), parse(`, claim_headers: { X-User-Id: sub }`, "b")} {
		if _, err := gw.Apply(cfg); err != nil {
			t.Fatal(err)
		}
		check(200)
	}
	if n := js.fetchCount(); n != 1 {
		t.Errorf("%d fetches after reloads that kept the provider, want 1", n)
	}
	// The provider leaves with its route: its source stops once the old
	// route has drained (its upstream timeout and a second).
	cfg, err := config.Parse([]byte(`
routes:
  - { name: other, match: { path: /other }, respond: { body: b } }
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for keySourceCount(gw) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the key source of a provider no route uses still runs")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A changed key file takes effect with the next reload: a new key is
// admitted, a removed one refused.
func TestKeyFileReload(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "gateway.yaml")
	keys := filepath.Join(dir, "keys.txt")
	write := func(path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(main, `
routes:
  - name: keyed
    match: { path: /keyed }
    access: { api_key: { file: keys.txt } }
    respond: {}
`)
	write(keys, "old:"+apikey.Hash("old-key")+"\n")
	cfg, err := config.Load(main)
	if err != nil {
		t.Fatal(err)
	}
	gw := serveConfig(t, cfg)
	status := func(key string) int {
		return gw.do(t, "GET", "/keyed", map[string]string{"X-Api-Key": key}, "").StatusCode()
	}
	if status("old-key") != 200 || status("new-key") != 401 {
		t.Fatal("before the change: want old-key admitted, new-key refused")
	}
	write(keys, "new:"+apikey.Hash("new-key")+"\n")
	next, err := config.Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if next.Hash() == cfg.Hash() {
		t.Fatal("the changed key file left the configuration's hash as it was")
	}
	res, err := gw.Apply(next)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changed["keyed"]) == 0 {
		t.Errorf("reload result %v: want the route changed", res)
	}
	if status("old-key") != 401 || status("new-key") != 200 {
		t.Fatal("after the reload: want new-key admitted, old-key refused")
	}
}
