package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
)

const diffServing = `
brokers:
  events: { nats: { url: "nats://127.0.0.1:4222" } }
routes:
  - { name: hello, match: { path: /hello }, respond: { body: "hello" } }
  - { name: events, match: { path: /events, methods: [POST] }, publish: { broker: events, subject: ev } }
`

// validate -diff names a route whose broker changed: a reload rebuilds
// it, so it is not the route the gateway serves.
func TestValidateDiffShowsBrokerChange(t *testing.T) {
	serving, err := config.Parse([]byte(diffServing), "serving.yaml")
	if err != nil {
		t.Fatal(err)
	}
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/-/config/digest" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(gateway.DigestOf(serving))
	}))
	defer admin.Close()
	addr := strings.TrimPrefix(admin.URL, "http://")

	dir := t.TempDir()
	file := filepath.Join(dir, "gateway.yaml")
	edited := strings.Replace(diffServing, "127.0.0.1:4222", "127.0.0.1:4223", 1)
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := runMain([]string{"validate", "-diff", "-admin", addr, file}, &out, &errOut); code != 0 {
		t.Fatalf("validate -diff: exit %d: %s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "~ route events (changed)") {
		t.Errorf("validate -diff does not name the route whose broker changed:\n%s", out.String())
	}
	if strings.Contains(out.String(), "route hello") {
		t.Errorf("validate -diff names an unchanged route:\n%s", out.String())
	}
}
