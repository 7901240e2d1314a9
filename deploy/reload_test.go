package deploy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
	"github.com/fastgate/gateway/reloader"
)

// TestConfigMapUpdateReloads: with the base's ConfigMap laid out as the
// kubelet mounts it, a ConfigMap update (a route changed, a route file
// added as a new key) reaches a running gateway through the ..data swap
// alone: what the directory mount, the include glob and the volume's
// absent items list are for.
func TestConfigMapUpdateReloads(t *testing.T) {
	objs, err := build("base", map[string]bool{})
	if err != nil {
		t.Fatal(err)
	}
	d := deploymentOf(t, objs)
	cfg, vol, cm := loadConfig(t, objs, d)
	log := slog.New(slog.DiscardHandler)

	gw, err := gateway.New(cfg, gateway.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	served := make(chan error, 1)
	go func() { served <- gw.Serve(ln) }()
	r, err := reloader.New(reloader.Settings[gateway.ReloadResult]{
		Config: cfg, Target: gw.ReloadTarget(), Checks: []config.Check{gateway.RouteConflicts},
		Logger: log, Debounce: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	following := make(chan struct{})
	go func() { defer close(following); r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-following
		// A cancelled context skips shutdown_delay and the drain.
		_ = gw.Shutdown(ctx)
		<-served
	})

	base := "http://" + ln.Addr().String()
	code, hello := get(t, base+"/hello")
	if code != http.StatusOK {
		t.Fatalf("GET /hello: %d %s", code, hello)
	}

	const routes, extra = "routes-example.yaml", "routes-extra.yaml"
	updated := cm.DeepCopy()
	if _, ok := updated.Data[extra]; ok {
		t.Fatalf("the ConfigMap has a key %s already", extra)
	}
	text := strings.TrimSuffix(hello, "\n")
	if !strings.Contains(updated.Data[routes], text) {
		t.Fatalf("the ConfigMap's %s does not hold the body of /hello %q", routes, text)
	}
	updated.Data[routes] = strings.Replace(updated.Data[routes], text, "hello after the update", 1)
	updated.Data[extra] = `routes:
  - name: extra
    match: { path: /extra, methods: [GET] }
    respond: { status: 200, body: "added by a ConfigMap update" }
`
	vol.write(t, updated.Data)

	for _, want := range []struct{ path, body string }{
		{"/hello", "hello after the update"},
		{"/extra", "added by a ConfigMap update"},
	} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, body := get(t, base+want.path)
			if code == http.StatusOK && strings.Contains(body, want.body) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("10s after the ConfigMap update, GET %s: %d %q, want 200 %q", want.path, code, body, want.body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// get GETs url on a fresh connection and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}
