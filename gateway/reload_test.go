package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/reloader"
)

// fileGateway is a gateway started from a file with a Reloader following it.
type fileGateway struct {
	*testGateway
	path     string
	reloader *reloader.Reloader[ReloadResult]
}

// startFileGateway writes yaml to a file in a temp dir and serves it with
// a Reloader watching it.
func startFileGateway(t testing.TB, yaml string) *fileGateway {
	return startFileGatewayWatch(t, yaml, true)
}

// startFileGatewayWatch is startFileGateway; with watch false the file is
// reloaded only when the test asks.
func startFileGatewayWatch(t testing.TB, yaml string, watch bool) *fileGateway {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, yaml)
	return followFile(t, path, watch)
}

// followFile serves the configuration at path with a Reloader on it; with
// watch false the file is reloaded only when the test asks.
func followFile(t testing.TB, path string, watch bool) *fileGateway {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tg := serveConfig(t, cfg)
	r, err := reloader.New(reloader.Settings[ReloadResult]{
		Config: cfg, Target: tg.ReloadTarget(), Checks: []config.Check{RouteConflicts},
		Logger: tg.log, Debounce: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	tg.SetReloadFunc(r.Reload)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	if !watch {
		cancel() // Run then only closes the watcher
	}
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &fileGateway{testGateway: tg, path: path, reloader: r}
}

// writeFile replaces path's content the way editors do: a new file renamed
// over the old one.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitHash waits, bounded, until the gateway serves a configuration other
// than old, and returns its hash.
func (g *fileGateway) waitHash(t testing.TB, old string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if h := g.Config().Hash(); h != old {
			return h
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the configuration did not change within 5s")
	return ""
}

func versionConfig(v string) string {
	return fmt.Sprintf(`
routes:
  - name: versioned
    match: { path: /v }
    respond: { body: "%[1]s", headers: { X-Body-Version: "%[1]s" } }
    response_headers: { set: { X-Version: "%[1]s" } }
`, v)
}

// TestReloadUnderLoad alternates two configurations 100 times through file
// writes while keep-alive clients send requests without pause: no request
// fails, and every answer comes whole from one version.
func TestReloadUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a reload soak")
	}
	const clients = 200
	g := startFileGateway(t, versionConfig("A"))
	var (
		ok, failed, mixed atomic.Int64
		stop              atomic.Bool
		wg                sync.WaitGroup
		firstErr          atomic.Value
	)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", g.addr)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			var resp fasthttp.Response
			for n := 0; n < 100000 && !stop.Load(); n++ {
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.WriteString(c, "GET /v HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				if err := resp.Read(br); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				body, hv, bv := string(resp.Body()), string(resp.Header.Peek("X-Version")), string(resp.Header.Peek("X-Body-Version"))
				switch {
				case resp.StatusCode() != 200:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d %s", resp.StatusCode(), body))
				case body != hv || body != bv:
					mixed.Add(1)
				default:
					ok.Add(1)
				}
			}
		}()
	}
	hash := g.Config().Hash()
	for i := 0; i < 100; i++ {
		v := "A"
		if i%2 == 0 {
			v = "B"
		}
		writeFile(t, g.path, versionConfig(v))
		hash = g.waitHash(t, hash)
	}
	stop.Store(true)
	wg.Wait()
	if failed.Load() != 0 || mixed.Load() != 0 {
		t.Errorf("%d answered, %d failed (first: %v), %d mixed versions; want none failed or mixed",
			ok.Load(), failed.Load(), firstErr.Load(), mixed.Load())
	}
	if ok.Load() < clients {
		t.Errorf("only %d requests answered", ok.Load())
	}
	if got := g.metric(t, `gateway_config_reloads_total{result="success"}`); got < 101 {
		t.Errorf("gateway_config_reloads_total{result=success} = %v, want 101", got)
	}
	t.Logf("%d requests during 100 reloads", ok.Load())
}

const twoRoutes = `
routes:
  - { name: keep, match: { path: /keep }, respond: { body: "keep" } }
  - { name: old, match: { path: /old }, respond: { body: "old" } }
`

const twoRoutesNext = `
routes:
  - { name: keep, match: { path: /keep }, respond: { body: "keep" } }
  - { name: new, match: { path: /new }, respond: { body: "new" } }
`

// postReload calls POST /-/reload and returns the status and the result.
func (g *fileGateway) postReload(t testing.TB, query string) (int, string) {
	t.Helper()
	resp, err := http.Post(g.admin+"/-/reload"+query, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReloadAddsAndRemovesRoutesAtOnce(t *testing.T) {
	g := startFileGatewayWatch(t, twoRoutes, false)
	if s := g.do(t, "GET", "/old", nil, "").StatusCode(); s != 200 {
		t.Fatalf("/old before: %d", s)
	}
	// Written in place, as a plain write does; the reload is asked for
	// explicitly and must have taken effect when it answers.
	if err := os.WriteFile(g.path, []byte(twoRoutesNext), 0o644); err != nil {
		t.Fatal(err)
	}
	status, body := g.postReload(t, "")
	if status != 200 || !strings.Contains(body, `"applied": true`) || !strings.Contains(body, `"new"`) || !strings.Contains(body, `"old"`) {
		t.Fatalf("POST /-/reload: %d %s", status, body)
	}
	if s := g.do(t, "GET", "/old", nil, "").StatusCode(); s != 404 {
		t.Errorf("removed route right after the reload: %d, want 404", s)
	}
	if s := g.do(t, "GET", "/new", nil, "").StatusCode(); s != 200 {
		t.Errorf("added route right after the reload: %d, want 200", s)
	}
	if s := g.do(t, "GET", "/keep", nil, "").StatusCode(); s != 200 {
		t.Errorf("kept route: %d, want 200", s)
	}
}

func TestReloadDryRun(t *testing.T) {
	g := startFileGatewayWatch(t, twoRoutes, false)
	before := g.Config().Hash()
	writeFile(t, g.path, strings.Replace(twoRoutesNext, `body: "keep"`, `body: "kept"`, 1)+"listen: \":9999\"\n")
	status, body := g.postReload(t, "?dry_run=true")
	for _, want := range []string{`"dry_run": true`, `"applied": false`, `"added": [`, `"new"`, `"removed": [`, `"old"`, `"keep": [`, `"respond"`, `"restart_needed": [`, `"listen"`} {
		if !strings.Contains(body, want) {
			t.Errorf("dry run answer lacks %s:\n%s", want, body)
		}
	}
	if status != 200 {
		t.Errorf("dry run status %d", status)
	}
	if g.Config().Hash() != before {
		t.Error("a dry run changed the serving configuration")
	}
	if s := g.do(t, "GET", "/old", nil, "").StatusCode(); s != 200 {
		t.Errorf("after a dry run /old answers %d, want 200", s)
	}
}

func TestReloadBadFilesKeepServing(t *testing.T) {
	g := startFileGateway(t, twoRoutes)
	good := g.Config().Hash()
	failures := g.metric(t, `gateway_config_reloads_total{result="failure"}`)
	tests := []struct {
		desc  string
		write func()
	}{
		{desc: "broken YAML", write: func() { writeFile(t, g.path, "routes: [ { name: x\n") }},
		{desc: "half-written file", write: func() { writeFile(t, g.path, twoRoutesNext[:len(twoRoutesNext)/2]) }},
		{desc: "invalid field", write: func() { writeFile(t, g.path, strings.Replace(twoRoutesNext, "path:", "paht:", 1)) }},
		{desc: "deleted file", write: func() {
			if err := os.Remove(g.path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tt.write()
			status, body := g.postReload(t, "")
			if status != 400 || !strings.Contains(body, `"errors"`) {
				t.Errorf("POST /-/reload: %d %s, want 400 with errors", status, body)
			}
			if h := g.Config().Hash(); h != good {
				t.Fatalf("the configuration changed to %s", h)
			}
			if s := g.do(t, "GET", "/old", nil, "").StatusCode(); s != 200 {
				t.Errorf("old route after a bad reload: %d, want 200", s)
			}
		})
	}
	if got := g.metric(t, `gateway_config_reloads_total{result="failure"}`); got < failures+float64(len(tests)) {
		t.Errorf("failure count %v, want at least %v", got, failures+float64(len(tests)))
	}
	// Fixing the file is picked up by itself.
	writeFile(t, g.path, twoRoutesNext)
	g.waitHash(t, good)
	if s := g.do(t, "GET", "/new", nil, "").StatusCode(); s != 200 {
		t.Errorf("after the fix: /new %d, want 200", s)
	}
}

// TestReloadFollowsSymlinkSwap updates the configuration the way a
// Kubernetes ConfigMap volume does: the file is a symlink through a
// "..data" symlink that is swapped to a new directory.
func TestReloadFollowsSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, content string) {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "gateway.yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("..v1", twoRoutes)
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.Symlink("..data/gateway.yaml", path); err != nil {
		t.Fatal(err)
	}
	g := followFile(t, path, true)

	old := g.Config().Hash()
	mk("..v2", twoRoutesNext)
	if err := os.Symlink("..v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	g.waitHash(t, old)
	if s := g.do(t, "GET", "/new", nil, ""); s.StatusCode() != 200 {
		t.Errorf("after the swap: /new %d", s.StatusCode())
	}
}

// TestReloadKeepsConnections: a route whose settings did not change keeps
// its upstream connection pool, open keep-alive connections included.
func TestReloadKeepsConnections(t *testing.T) {
	var conns atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{
		Handler:               func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("up") },
		MaxIdleWorkerDuration: 20 * time.Millisecond,
		ConnState: func(_ net.Conn, s fasthttp.ConnState) {
			if s == fasthttp.StateNew {
				conns.Add(1)
			}
		},
	}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown() }()
	base := fmt.Sprintf(`
routes:
  - { name: api, match: { path_prefix: /api/ }, upstream: { targets: ["http://%s"] } }
`, ln.Addr())
	g := startFileGateway(t, base)
	for i := 0; i < 3; i++ {
		g.do(t, "GET", "/api/x", nil, "")
	}
	before := conns.Load()
	for i := 0; i < 5; i++ {
		old := g.Config().Hash()
		writeFile(t, g.path, base+fmt.Sprintf("  - { name: extra%d, match: { path: /e%d }, respond: {} }\n", i, i))
		g.waitHash(t, old)
		if s := g.do(t, "GET", "/api/x", nil, "").StatusCode(); s != 200 {
			t.Fatalf("status %d", s)
		}
	}
	if after := conns.Load(); after != before {
		t.Errorf("upstream saw %d new connections across reloads of other routes, want 0", after-before)
	}
}

// TestReloadLeaksNothing: a thousand reloads that change a proxied route
// leave goroutines, pools and heap where they were.
func TestReloadLeaksNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("a thousand reloads")
	}
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	cfgText := func(i int) string {
		return fmt.Sprintf(`
routes:
  - name: api
    match: { path_prefix: /api/ }
    request_headers: { set: { X-Gen: "%d" } }
    upstream: { targets: ["%s"], timeout: 1s, idle_timeout: %dms }
`, i, up, 1000+i%2)
	}
	g := startGateway(t, cfgText(0))
	measure := func() (int, uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapInuse
	}
	apply := func(i int) {
		cfg, err := config.Parse([]byte(cfgText(i)), "test.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Apply(cfg); err != nil {
			t.Fatal(err)
		}
	}
	// Retired routes close once drained (timeout + 1s): wait for them.
	retired := func() bool {
		g.reload.mu.Lock()
		defer g.reload.mu.Unlock()
		return len(g.reload.retiring) == 0
	}
	for i := 1; i <= 50; i++ { // warm up
		apply(i)
	}
	waitFor(t, 10*time.Second, retired)
	g.closedGet(t, "/api/x")
	gBefore, hBefore := measure()
	for i := 51; i <= 1050; i++ {
		apply(i)
		if i%100 == 0 {
			if s := g.closedGet(t, "/api/x"); !strings.HasPrefix(s, "HTTP/1.1 200") {
				t.Fatalf("status %q after %d reloads", s, i)
			}
		}
	}
	waitFor(t, 10*time.Second, retired)
	// A route's close runs just after it leaves the retiring set: allow
	// it a moment, bounded, to finish before calling anything a leak.
	gAfter, hAfter := measure()
	for deadline := time.Now().Add(5 * time.Second); (gAfter > gBefore+2 || hAfter > hBefore+4<<20) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		gAfter, hAfter = measure()
	}
	if gAfter > gBefore+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines %d before, %d after 1000 reloads:\n%s", gBefore, gAfter, buf[:runtime.Stack(buf, true)])
	}
	if hAfter > hBefore+4<<20 {
		t.Errorf("heap in use %d KiB before, %d KiB after 1000 reloads", hBefore>>10, hAfter>>10)
	}
	if n := g.clients.open(); n != 2 && n != 1 {
		t.Errorf("%d upstream pools open, want at most the two settings in use", n)
	}
}

// TestReloadBodyFile: a respond body read from a file is read again by a
// reload.
func TestReloadBodyFile(t *testing.T) {
	dir := t.TempDir()
	body := filepath.Join(dir, "notice.txt")
	if err := os.WriteFile(body, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, "routes:\n  - { name: n, match: { path: /n }, respond: { body_file: notice.txt } }\n")
	g := followFile(t, path, false)
	tg, r := g.testGateway, g.reloader
	if got := string(tg.do(t, "GET", "/n", nil, "").Body()); got != "first" {
		t.Fatalf("body %q", got)
	}
	if err := os.WriteFile(body, []byte("second"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload("test", false); err != nil {
		t.Fatal(err)
	}
	if got := string(tg.do(t, "GET", "/n", nil, "").Body()); got != "second" {
		t.Errorf("after the reload: body %q, want the file's new content", got)
	}
}
