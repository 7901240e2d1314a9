package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/reloader"
)

// TestConfigCatchAllAndExtensionMethods loads a config with a catch-all
// template and extension methods, as docs/routing.md documents them, and sends
// requests through the gateway.
func TestConfigCatchAllAndExtensionMethods(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString(string(ctx.Method()) + " " + string(ctx.Path()))
	})
	g := startGateway(t, `
routes:
  - name: files
    match: { path: "/files/{rest...}", methods: [GET] }
    upstream: { targets: ["{UP1}"] }
  - name: purge
    match: { path_prefix: "/cache/", methods: [PURGE, PROPFIND] }
    upstream: { targets: ["{UP1}"] }
`, up)
	tests := []struct {
		desc, method, path string
		wantStatus         int
		wantBody           string
	}{
		{desc: "catch-all, two segments", method: "GET", path: "/files/a/b", wantStatus: 200, wantBody: "GET /files/a/b"},
		{desc: "catch-all, empty rest", method: "GET", path: "/files/", wantStatus: 200, wantBody: "GET /files/"},
		{desc: "PURGE", method: "PURGE", path: "/cache/x", wantStatus: 200, wantBody: "PURGE /cache/x"},
		{desc: "PROPFIND", method: "PROPFIND", path: "/cache/y", wantStatus: 200, wantBody: "PROPFIND /cache/y"},
		{desc: "method not listed", method: "GET", path: "/cache/x", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			resp := g.do(t, tt.method, tt.path, nil, "")
			if resp.StatusCode() != tt.wantStatus {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode(), tt.wantStatus, resp.Body())
			}
			if tt.wantBody != "" && string(resp.Body()) != tt.wantBody {
				t.Errorf("body %q, want %q", resp.Body(), tt.wantBody)
			}
		})
	}
}

// TestAdminConfigHidesCredentials reads /-/config of a gateway whose
// configuration holds credentials in places that names alone do not give
// away.
func TestAdminConfigHidesCredentials(t *testing.T) {
	g := startGateway(t, `
routes:
  - name: r
    match: { path: /r }
    request_headers: { set: { X-Auth: hdrsecret1, Content-Type: text/plain } }
    respond: { headers: { X-Signature: hdrsecret2 } }
discovery:
  etcd: { endpoints: ["http://root:etcdsecret@127.0.0.1:2379"] }
`)
	_, body, err := fasthttp.Get(nil, g.admin+"/-/config")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hdrsecret1", "hdrsecret2", "etcdsecret", "root"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("/-/config shows %q:\n%s", secret, body)
		}
	}
	if !strings.Contains(string(body), "Content-Type: text/plain") {
		t.Errorf("/-/config hides a harmless header:\n%s", body)
	}
}

// TestReloadVanishedIncludeKeepsRoutes deletes the one file an include
// glob matches: the file change must not take its routes out of service;
// an explicit reload confirms the removal.
func TestReloadVanishedIncludeKeepsRoutes(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "routes.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "routes.d", "a.yaml"), `
routes:
  - { name: a, match: { path: /a }, respond: { body: a } }
`)
	writeFile(t, filepath.Join(dir, "gateway.yaml"), `
include: ["routes.d/*.yaml"]
routes:
  - { name: main, match: { path: /main }, respond: { body: main } }
`)
	g := followFile(t, filepath.Join(dir, "gateway.yaml"), true)
	const failures = `gateway_config_reloads_total{result="failure"}`
	before := g.metric(t, failures)

	if err := os.Remove(filepath.Join(dir, "routes.d", "a.yaml")); err != nil {
		t.Fatal(err)
	}
	g.waitMetric(t, failures, func(v float64) bool { return v > before })
	if s := g.do(t, "GET", "/a", nil, ""); s.StatusCode() != 200 {
		t.Fatalf("after the file vanished: /a %d, want 200 (the old configuration)", s.StatusCode())
	}
	// That the refusal names the file is the reloader package's test.

	res, err := g.reloader.Reload("SIGHUP", false)
	if err != nil || !res.Applied {
		t.Fatalf("explicit reload: %v %+v", err, res)
	}
	if s := g.do(t, "GET", "/a", nil, ""); s.StatusCode() != 404 {
		t.Errorf("after the explicit reload: /a %d, want 404", s.StatusCode())
	}
	if s := g.do(t, "GET", "/main", nil, ""); s.StatusCode() != 200 {
		t.Errorf("after the explicit reload: /main %d", s.StatusCode())
	}
	// The glob matching nothing is now the good state: other changes apply.
	old := g.Config().Hash()
	writeFile(t, filepath.Join(dir, "routes.d", "b.yaml"), `
routes:
  - { name: b, match: { path: /b }, respond: { body: b } }
`)
	g.waitHash(t, old)
	if s := g.do(t, "GET", "/b", nil, ""); s.StatusCode() != 200 {
		t.Errorf("a new file: /b %d", s.StatusCode())
	}
}

// TestReloadConfigMapRemovesInclude removes an included file the way a
// Kubernetes ConfigMap volume does: a new "..data" directory without it,
// the symlink swapped, the file's own symlink removed. That replaces the
// directory as a whole and applies without an explicit reload.
func TestReloadConfigMapRemovesInclude(t *testing.T) {
	dir := t.TempDir()
	vol := filepath.Join(dir, "routes.d")
	mk := func(version string, files map[string]string) {
		if err := os.MkdirAll(filepath.Join(vol, version), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(vol, version, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	symlink := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(vol, name)); err != nil {
			t.Fatal(err)
		}
	}
	routeA := "routes:\n  - { name: a, match: { path: /a }, respond: { body: a } }\n"
	routeB := "routes:\n  - { name: b, match: { path: /b }, respond: { body: b } }\n"
	mk("..v1", map[string]string{"a.yaml": routeA, "b.yaml": routeB})
	symlink("..v1", "..data")
	symlink("..data/a.yaml", "a.yaml")
	symlink("..data/b.yaml", "b.yaml")
	writeFile(t, filepath.Join(dir, "gateway.yaml"), "include: [\"routes.d/*.yaml\"]\nroutes: []\n")
	g := followFile(t, filepath.Join(dir, "gateway.yaml"), true)
	if s := g.do(t, "GET", "/a", nil, ""); s.StatusCode() != 200 {
		t.Fatalf("before: /a %d", s.StatusCode())
	}

	old := g.Config().Hash()
	mk("..v2", map[string]string{"b.yaml": routeB})
	symlink("..v2", "..data_tmp")
	if err := os.Rename(filepath.Join(vol, "..data_tmp"), filepath.Join(vol, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(vol, "a.yaml")); err != nil {
		t.Fatal(err)
	}
	g.waitHash(t, old)
	if s := g.do(t, "GET", "/a", nil, ""); s.StatusCode() != 404 {
		t.Errorf("after the swap: /a %d, want 404", s.StatusCode())
	}
	if s := g.do(t, "GET", "/b", nil, ""); s.StatusCode() != 200 {
		t.Errorf("after the swap: /b %d, want 200", s.StatusCode())
	}
}

// waitMetric waits, bounded, until the series' value satisfies ok.
func (g *fileGateway) waitMetric(t testing.TB, series string, ok func(float64) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if ok(g.metric(t, series)) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s did not reach the wanted value within 5s (now %v)", series, g.metric(t, series))
}

// TestRouteConflictsListedWithOtherErrors loads a configuration with a
// route conflict in an included file and other errors: every problem is
// reported at once, the conflict at its route in its own file.
func TestRouteConflictsListedWithOtherErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "routes.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "routes.d", "a.yaml"), `routes:
  - { name: a1, match: { path: /x, methods: [GET] }, respond: {} }
  - { name: a2, match: { path: /x, methods: [GET, POST] }, respond: {} }
  - { name: a3, match: { path: /y }, respond: { status: 1000 } }
`)
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, `include: ["routes.d/*.yaml"]
listen: nope
routes:
  - { name: main, match: { path: /main }, respond: {} }
`)
	_, err := config.Load(path, RouteConflicts)
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v, want config.Errors", err)
	}
	a := filepath.Join(dir, "routes.d", "a.yaml")
	want := []string{
		path + `:2:9: listen: "nope": want host:port, like ":8080" or "127.0.0.1:8080"`,
		a + `:3:5: routes[1]: conflicts with routes[0] (a1): both match any host, path "/x" and method GET`,
		a + `:4:57: routes[2].respond.status: 1000: must be an HTTP status 100-599`,
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if got := errs[i].Error(); got != w {
			t.Errorf("error %d:\n got %s\nwant %s", i, got, w)
		}
	}
}

// TestAdminReloadCallsTheReloadFunc: POST /-/reload answers 404 until a
// reload function is set, then calls it with the trigger and dry-run flag
// and answers with its result: 200, or 400 when it failed.
func TestAdminReloadCallsTheReloadFunc(t *testing.T) {
	g := startGateway(t, adminRoutes)
	if status, body := adminDo(t, "POST", g.admin+"/-/reload", "", "", nil); status != 404 || !strings.Contains(body, errNoReloader.Error()) {
		t.Errorf("without a reload function: %d %s, want 404 and %q", status, body, errNoReloader)
	}

	type call struct {
		trigger string
		dryRun  bool
	}
	calls := make(chan call, 1)
	fails := make(chan error, 1) // what the next call returns
	g.SetReloadFunc(func(trigger string, dryRun bool) (ReloadResult, error) {
		calls <- call{trigger, dryRun}
		return ReloadResult{Applied: !dryRun, DryRun: dryRun, Hash: "h1"}, <-fails
	})
	tests := []struct {
		desc       string
		query      string
		fail       error
		want       call
		wantStatus int
		wantBody   string
	}{
		{desc: "reload", want: call{"admin", false}, wantStatus: 200, wantBody: `"applied": true`},
		{desc: "dry run", query: "?dry_run=true", want: call{"admin dry run", true}, wantStatus: 200, wantBody: `"dry_run": true`},
		{desc: "refused", fail: errors.New("refused"), want: call{"admin", false}, wantStatus: 400, wantBody: `"hash": "h1"`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			select { // left by a case whose request never called it
			case <-fails:
			default:
			}
			fails <- tt.fail
			status, body := adminDo(t, "POST", g.admin+"/-/reload"+tt.query, "", "", nil)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Errorf("%d %s, want %d and %s", status, body, tt.wantStatus, tt.wantBody)
			}
			select {
			case c := <-calls:
				if c != tt.want {
					t.Errorf("called with %+v, want %+v", c, tt.want)
				}
			default:
				t.Error("the reload function was not called")
			}
		})
	}
	g.SetReloadFunc(nil)
	if status, _ := adminDo(t, "POST", g.admin+"/-/reload", "", "", nil); status != 404 {
		t.Errorf("after the reload function was unset: %d, want 404", status)
	}
}

// TestReloadTargetSkipsWhatServesOnFileChange: a file change that loads
// the serving configuration again changes nothing but counts as a
// success; a reload asked for applies it.
func TestReloadTargetSkipsWhatServesOnFileChange(t *testing.T) {
	g := startGateway(t, adminRoutes)
	target := g.ReloadTarget()
	const successes = `gateway_config_reloads_total{result="success"}`
	before := g.metric(t, successes)

	res, err := target.Apply(g.Config(), reloader.Request{Trigger: reloader.TriggerFileChange, FileChange: true})
	if err != nil || res.Applied || res.Hash != g.Config().Hash() {
		t.Errorf("file change to the serving configuration: %v %+v, want not applied, with its hash", err, res)
	}
	if after := g.metric(t, successes); after != before+1 {
		t.Errorf("successful reloads %v, want %v", after, before+1)
	}
	res, err = target.Apply(g.Config(), reloader.Request{Trigger: "SIGHUP"})
	if err != nil || !res.Applied || res.Unchanged != 1 {
		t.Errorf("asked-for reload of the serving configuration: %v %+v, want applied, 1 route unchanged", err, res)
	}
}

// TestReloadTargetRefuse: a configuration that did not load is counted as
// a failed reload, unless it was a dry run; the result lists its errors.
func TestReloadTargetRefuse(t *testing.T) {
	g := startGateway(t, adminRoutes)
	target := g.ReloadTarget()
	const failures = `gateway_config_reloads_total{result="failure"}`
	before := g.metric(t, failures)
	problem := errors.New("gateway.yaml:1:1: bad")

	res := target.Refuse(problem, reloader.Request{Trigger: "admin dry run", DryRun: true})
	if !res.DryRun || len(res.Errors) != 1 || res.Errors[0] != problem.Error() {
		t.Errorf("dry run: %+v, want a dry run listing the problem", res)
	}
	if after := g.metric(t, failures); after != before {
		t.Errorf("a refused dry run counted as a failed reload (%v → %v)", before, after)
	}
	res = target.Refuse(problem, reloader.Request{Trigger: "SIGHUP"})
	if res.DryRun || res.Applied || len(res.Errors) != 1 {
		t.Errorf("reload: %+v, want the problem listed", res)
	}
	if after := g.metric(t, failures); after != before+1 {
		t.Errorf("failed reloads %v, want %v", after, before+1)
	}
}
