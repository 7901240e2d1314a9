package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

const restartBase = `
listen: "127.0.0.1:18080"
routes:
  - { name: hello, match: { path: /hello }, respond: { body: "hello" } }
`

// restartAdded adds every kind of restart-only setting to restartBase,
// and settings that apply at once (access_log and tracing among them).
const restartAdded = `
listen: "127.0.0.1:18081"
admin_hosts: [gw.example]
access_log: { output: stderr }
tracing: { endpoint: "127.0.0.1:4318", insecure: true }
cache: { max_bytes: 1MiB }
server: { read_timeout: 5s, drain_timeout: 5s }
routes:
  - { name: hello, match: { path: /hello }, respond: { body: "hello" } }
`

func (g *fileGateway) reloadResult(t *testing.T) ReloadResult {
	t.Helper()
	status, body := g.postReload(t, "")
	if status != 200 {
		t.Fatalf("POST /-/reload: %d %s", status, body)
	}
	var res ReloadResult
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatalf("POST /-/reload: %v in %s", err, body)
	}
	return res
}

func (g *fileGateway) shownConfig(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(g.admin + "/-/config")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /-/config: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

// A reload that adds or changes restart-only settings says so, and the
// gateway shows the values in effect, not the file's, until a restart.
func TestReloadReportsRestartOnlySettings(t *testing.T) {
	g := startFileGatewayWatch(t, restartBase, false)
	wantPending := []string{"listen", "server.read_timeout", "cache"}

	writeFile(t, g.path, restartAdded)
	for i := range 2 { // a second reload of the same file: still pending
		res := g.reloadResult(t)
		if !res.Applied {
			t.Fatalf("reload %d not applied: %+v", i, res)
		}
		if !sameSet(res.RestartNeeded, wantPending) {
			t.Errorf("reload %d: restart_needed %q, want %q", i, res.RestartNeeded, wantPending)
		}
		// The live settings apply with the first reload.
		wantLive := []string{"admin_hosts", "server.drain_timeout", "access_log", "tracing"}
		if i > 0 {
			wantLive = nil
		}
		if !sameSet(res.Settings, wantLive) {
			t.Errorf("reload %d: settings %q, want %q", i, res.Settings, wantLive)
		}
	}
	shown := g.shownConfig(t)
	first, _, _ := strings.Cut(shown, "\n")
	for _, key := range wantPending {
		if !strings.Contains(first, key) {
			t.Errorf("/-/config's first line does not name %s as pending:\n%s", key, shown)
		}
	}
	for _, absent := range []string{"cache:", "18081", "read_timeout: 5s"} {
		if strings.Contains(shown, absent) {
			t.Errorf("/-/config shows %q, which is not in effect:\n%s", absent, shown)
		}
	}
	for _, present := range []string{`listen: 127.0.0.1:18080`, "gw.example", "drain_timeout: 5s", "access_log:", "tracing:"} {
		if !strings.Contains(shown, present) {
			t.Errorf("/-/config lacks %q, which is in effect:\n%s", present, shown)
		}
	}
	c := g.Config()
	if c.Listen != "127.0.0.1:18080" || c.AccessLog == nil || c.Tracing == nil || c.Cache != nil {
		t.Errorf("serving configuration is not the one in effect: listen %q access_log %v tracing %v cache %v",
			c.Listen, c.AccessLog, c.Tracing, c.Cache)
	}
	if s := g.do(t, "GET", "/hello", nil, "").StatusCode(); s != 200 {
		t.Errorf("GET /hello after the reload: %d", s)
	}

	// Back to the values in effect: nothing is pending any more.
	writeFile(t, g.path, restartBase)
	res := g.reloadResult(t)
	if len(res.RestartNeeded) != 0 {
		t.Errorf("after reverting: restart_needed %q, want none", res.RestartNeeded)
	}
	if shown := g.shownConfig(t); strings.HasPrefix(shown, "#") {
		t.Errorf("after reverting /-/config still names pending settings:\n%s", shown)
	}
}

func sameSet(got, want []string) bool {
	return len(got) == len(want) && !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(got, w) })
}
