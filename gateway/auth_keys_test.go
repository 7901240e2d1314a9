package gateway

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/fastgate/gateway/auth/apikey"
	"github.com/fastgate/gateway/config"
)

func bcryptOf(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// loadConfigFiles writes files (name -> content, gateway.yaml among them)
// to a directory and loads gateway.yaml from it.
func loadConfigFiles(t testing.TB, files map[string]string) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, "gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, dir
}

// API keys (inline and from a file) and basic auth (inline users and an
// htpasswd file), on one route that takes either: the consumer goes
// upstream, the credential does not, and the rate limit keys on the
// consumer.
func TestAPIKeyAndBasic(t *testing.T) {
	up := echoUpstream(t)
	cfg, _ := loadConfigFiles(t, map[string]string{
		"keys.txt":       "# consumer:sha256\nfile-app:" + apikey.Hash("file-key") + "\n",
		"users.htpasswd": "carol:" + bcryptOf(t, "carol-pw") + "\n",
		"gateway.yaml": `
routes:
  - name: either
    match: { path_prefix: /either }
    access:
      api_key:
        keys: [{ consumer: ci, sha256: ` + apikey.Hash("ci-key") + ` }]
        file: keys.txt
      basic:
        realm: team
        users: [{ name: dave, hash: "` + bcryptOf(t, "dave-pw") + `" }]
        htpasswd_file: users.htpasswd
    rate_limit: { rate: 1/h, burst: 2, per: consumer }
    upstream: { targets: ["` + up + `"] }
  - name: query-key
    match: { path_prefix: /q }
    access:
      api_key: { from: "query:key", keys: [{ consumer: q, sha256: ` + apikey.Hash("q-key") + ` }] }
      consumer_header: X-Auth-User
    upstream: { targets: ["` + up + `"] }
`,
	})
	gw := serveConfig(t, cfg)
	tests := []struct {
		desc     string
		path     string
		hdr      map[string]string
		want     int
		consumer string
		auth     string // WWW-Authenticate holds
	}{
		{desc: "inline key", path: "/either", hdr: map[string]string{"X-Api-Key": "ci-key"}, want: 200, consumer: "ci"},
		{desc: "key from the file", path: "/either", hdr: map[string]string{"X-Api-Key": "file-key"}, want: 200, consumer: "file-app"},
		{desc: "inline user", path: "/either", hdr: map[string]string{"Authorization": basicAuth("dave", "dave-pw")}, want: 200, consumer: "dave"},
		{desc: "htpasswd user", path: "/either", hdr: map[string]string{"Authorization": basicAuth("carol", "carol-pw")}, want: 200, consumer: "carol"},
		{desc: "unknown key", path: "/either", hdr: map[string]string{"X-Api-Key": "nope"}, want: 401, auth: "APIKey"},
		{desc: "wrong password", path: "/either", hdr: map[string]string{"Authorization": basicAuth("carol", "nope")}, want: 401, auth: `Basic realm="team"`},
		{desc: "unknown user", path: "/either", hdr: map[string]string{"Authorization": basicAuth("eve", "x")}, want: 401, auth: "Basic"},
		{desc: "nothing", path: "/either", want: 401, auth: "Basic"},
		{desc: "key in the query", path: "/q?key=q-key", want: 200},
		{desc: "wrong key in the query", path: "/q?key=x", want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			resp := gw.do(t, "GET", tt.path, tt.hdr, "")
			if resp.StatusCode() != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode(), tt.want, resp.Body())
			}
			if tt.want != 200 {
				if got := string(resp.Header.Peek("WWW-Authenticate")); !strings.Contains(got, tt.auth) {
					t.Errorf("WWW-Authenticate %q, want it to hold %q", got, tt.auth)
				}
				return
			}
			if tt.consumer != "" {
				if got := string(resp.Header.Peek("X-Got-X-Consumer")); got != tt.consumer {
					t.Errorf("consumer upstream %q, want %q", got, tt.consumer)
				}
				if got := string(resp.Header.Peek("X-Got-Authorization")) + string(resp.Header.Peek("X-Got-X-Api-Key")); got != "" {
					t.Errorf("the credential went upstream: %q", got)
				}
			}
		})
	}
	// Missing: every method's challenge, in one field.
	resp := gw.do(t, "GET", "/either", nil, "")
	if got, want := string(resp.Header.Peek("WWW-Authenticate")), `APIKey realm="gateway", Basic realm="team", charset="UTF-8"`; got != want {
		t.Errorf("WWW-Authenticate %q, want %q", got, want)
	}
	// per: consumer: ci had one request, so one more passes, the next is
	// refused, while file-app still has its own bucket.
	if s := gw.do(t, "GET", "/either", map[string]string{"X-Api-Key": "ci-key"}, "").StatusCode(); s != 200 {
		t.Fatalf("ci's second request: %d", s)
	}
	if s := gw.do(t, "GET", "/either", map[string]string{"X-Api-Key": "ci-key"}, "").StatusCode(); s != 429 {
		t.Fatalf("ci's third request: %d, want 429", s)
	}
	if s := gw.do(t, "GET", "/either", map[string]string{"X-Api-Key": "file-key"}, "").StatusCode(); s != 200 {
		t.Fatalf("file-app's second request: %d, want 200 (a bucket of its own)", s)
	}
	if got := string(gw.do(t, "GET", "/q?key=q-key", nil, "").Header.Peek("X-Got-X-Auth-User")); got != "q" {
		t.Errorf("consumer_header X-Auth-User = %q, want q", got)
	}
}
