package deploy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
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
	if code, body := get(t, base+"/hello"); code != http.StatusOK {
		t.Fatalf("GET /hello: %d %s", code, body)
	}

	updated := cm.DeepCopy()
	const extra = "routes-extra.yaml"
	if _, ok := updated.Data[extra]; ok {
		t.Fatalf("the ConfigMap has a key %s already", extra)
	}
	updated.Data[extra] = `routes:
  - name: extra
    match: { path: /extra, methods: [GET] }
    respond: { status: 200, body: "added by a ConfigMap update\n" }
`
	vol.write(t, updated)

	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, base+"/extra")
		if code == http.StatusOK && body == "added by a ConfigMap update\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after the ConfigMap update, GET /extra: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := get(t, base+"/hello"); code != http.StatusOK {
		t.Errorf("GET /hello after the update: %d %s", code, body)
	}

	// A key removed from the ConfigMap takes its routes with it: the
	// ..data swap replaces the directory as a whole.
	vol.write(t, cm)
	deadline = time.Now().Add(10 * time.Second)
	for {
		code, _ := get(t, base+"/extra")
		if code == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the key was removed, GET /extra still answers %d", code)
		}
		time.Sleep(20 * time.Millisecond)
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
