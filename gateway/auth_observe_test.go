package gateway

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fastgate/gateway/auth/apikey"
)

// The access log names the consumer (never the credential) and who
// answered: "cors" for a preflight, "auth" for a refusal, "ip" for an
// address refused.
func TestAccessLogAuth(t *testing.T) {
	var out syncBuffer
	gw := startLoggedGateway(t, &out, `
access_log: {}
routes:
  - name: keyed
    match: { path: /keyed }
    access:
      cors: { allowed_origins: ["https://app.example.com"] }
      ip_deny: [192.0.2.1]
      api_key: { keys: [{ consumer: alice, sha256: `+apikey.Hash("alice-secret-key")+` }] }
    respond: {}
`)
	steps := []struct {
		method     string
		hdr        map[string]string
		wantStatus int
		wantSource string
		consumer   string
	}{
		{"GET", map[string]string{"X-Api-Key": "alice-secret-key"}, 200, "respond", "alice"},
		{"GET", nil, 401, "auth", ""},
		{"OPTIONS", map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}, 204, "cors", ""},
	}
	for _, s := range steps {
		if got := gw.do(t, s.method, "/keyed", s.hdr, "").StatusCode(); got != s.wantStatus {
			t.Fatalf("%s: status %d, want %d", s.method, got, s.wantStatus)
		}
	}
	lines := out.lines(t, len(steps))
	for i, s := range steps {
		l := lines[i]
		if l["source"] != s.wantSource || int(l["status"].(float64)) != s.wantStatus {
			t.Errorf("line %d: source %v status %v, want %s %d", i, l["source"], l["status"], s.wantSource, s.wantStatus)
		}
		if got, _ := l["consumer"].(string); got != s.consumer {
			t.Errorf("line %d: consumer %q, want %q", i, got, s.consumer)
		}
	}
	out.mu.Lock()
	all := out.b.String()
	out.mu.Unlock()
	if strings.Contains(all, "alice-secret-key") {
		t.Error("the access log holds the API key")
	}
}

// /-/config never shows key hashes, bcrypt hashes, nor the credentials in
// forward-auth and JWKS URLs.
func TestConfigEndpointHidesAuthSecrets(t *testing.T) {
	hash := apikey.Hash("k")
	bcryptHash := bcryptOf(t, "pw")
	gw := startGateway(t, `
auth:
  jwt_providers:
    idp: { jwks_url: "http://jwksuser:jwkspass@127.0.0.1:1/jwks" }
routes:
  - name: keys
    match: { path: /keys }
    access: { api_key: { keys: [{ consumer: c, sha256: `+hash+` }] } }
    respond: {}
  - name: basic
    match: { path: /basic }
    access: { basic: { users: [{ name: u, hash: "`+bcryptHash+`" }] } }
    respond: {}
  - name: fwd
    match: { path: /fwd }
    access: { forward_auth: { url: "http://svc:fwdpass@127.0.0.1:1/check" } }
    respond: {}
  - name: jwt
    match: { path: /jwt }
    access: { jwt: { provider: idp } }
    respond: {}
`)
	resp, err := http.Get(gw.admin + "/-/config")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "forward_auth") {
		t.Fatalf("/-/config: %d\n%s", resp.StatusCode, body)
	}
	for _, secret := range []string{hash, bcryptHash, "fwdpass", "jwkspass"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("/-/config shows %q:\n%s", secret, body)
		}
	}
}
