package deploy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
)

func configMapNamed(t *testing.T, objs []*object, name string) *corev1.ConfigMap {
	t.Helper()
	for _, cm := range typed[corev1.ConfigMap](objs) {
		if cm.Name == name {
			return cm
		}
	}
	return nil
}

// volume is a ConfigMap volume laid out as the kubelet writes it: the
// files in a hidden timestamped directory, a ..data symlink to it, and one
// symlink per key through ..data. An update writes a new directory and
// renames a new ..data symlink over the old one, which is what makes it
// atomic, and what the reloader follows.
type volume struct {
	dir  string
	gen  int
	data string // the timestamped directory ..data points to
}

// write makes the volume hold files (by name, a ConfigMap's or Secret's
// keys), as the kubelet's atomic writer does: new directory, ..data
// swapped, symlinks of new keys added and of removed ones deleted, the
// old directory removed.
func (v *volume) write(t *testing.T, files map[string]string) {
	t.Helper()
	v.gen++
	data := fmt.Sprintf("..2026_12_07_08_00_%02d.%09d", v.gen, v.gen)
	if err := os.Mkdir(filepath.Join(v.dir, data), 0o755); err != nil {
		t.Fatal(err)
	}
	for key, val := range files {
		if err := os.WriteFile(filepath.Join(v.dir, data, key), []byte(val), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(data, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for key := range files {
		link := filepath.Join(v.dir, key)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", key), link); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(v.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok && !strings.HasPrefix(e.Name(), "..") {
			if err := os.Remove(filepath.Join(v.dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	if v.data != "" {
		if err := os.RemoveAll(filepath.Join(v.dir, v.data)); err != nil {
			t.Fatal(err)
		}
	}
	v.data = data
}

// loadConfig loads the configuration the Deployment's container reads:
// the -config file in its ConfigMap volume, laid out as the kubelet
// mounts it, loaded and checked as `gateway run` and `gateway validate`
// do. It returns the configuration, the volume and its ConfigMap.
func loadConfig(t *testing.T, objs []*object, d *appsv1.Deployment) (*config.Config, *volume, *corev1.ConfigMap) {
	t.Helper()
	v, _, key := configVolume(t, d)
	cm := configMapNamed(t, objs, v.ConfigMap.Name)
	if cm == nil {
		t.Fatalf("ConfigMap %s is not in the build", v.ConfigMap.Name)
	}
	if _, ok := cm.Data[key]; !ok {
		t.Fatalf("ConfigMap %s has no key %s, the -config file", cm.Name, key)
	}
	if len(cm.BinaryData) > 0 {
		t.Fatalf("ConfigMap %s has binaryData: the configuration is text", cm.Name)
	}
	vol := &volume{dir: t.TempDir()}
	vol.write(t, cm.Data)
	dir := vol.dir
	file := filepath.Join(dir, key)
	cfg, err := config.Load(file, gateway.RouteConflicts)
	if err != nil {
		t.Fatalf("ConfigMap %s: %v", cm.Name, err)
	}
	if err := gateway.Check(cfg); err != nil {
		t.Fatalf("ConfigMap %s: %v", cm.Name, err)
	}
	for key := range cm.Data {
		if !slices.Contains(cfg.Files(), filepath.Join(dir, key)) {
			t.Errorf("ConfigMap %s key %s is not read by the configuration: include it", cm.Name, key)
		}
	}
	return cfg, vol, cm
}

// podIP stands for the pod's address in the Host header a kubelet sends:
// it builds the probe's URL from the pod IP and the port, and Go's client
// sends that as Host (the probe sets no Host of its own).
const podIP = "10.244.1.17"

// kubeletGet sends what the kubelet's httpGet probe sends for path on
// port: Host <pod IP>:<port>, its User-Agent and Accept. The connection
// goes to addr, the admin listener on loopback.
func kubeletGet(t *testing.T, addr string, port int32, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = net.JoinHostPort(podIP, strconv.Itoa(int(port)))
	req.Header.Set("User-Agent", "kube-probe/1.37")
	req.Header.Set("Accept", "*/*")
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestProbesOnRealGateway serves the base's configuration with a real
// gateway (listeners on loopback instead of the pod's ports) and probes
// it as the kubelet does: both probes succeed on the admin listener.
// Then it shuts the gateway down as SIGTERM does: /readyz turns 503 while
// /healthz stays 200 and the proxy still answers, which is what lets the
// readiness probe take the pod out before the listener closes.
func TestProbesOnRealGateway(t *testing.T) {
	objs, err := build("base", map[string]bool{})
	if err != nil {
		t.Fatal(err)
	}
	d := deploymentOf(t, objs)
	c := container(t, d)
	cfg, _, _ := loadConfig(t, objs, d)

	gw, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	proxyLn := listen(t)
	adminLn := listen(t)
	served := make(chan error, 2)
	go func() { served <- gw.Serve(proxyLn) }()
	go func() { served <- gw.ServeAdmin(adminLn) }()
	shutdownCtx, stop := context.WithCancel(context.Background())
	shut := make(chan error, 1)
	shutdown := func() {
		go func() { shut <- gw.Shutdown(shutdownCtx) }()
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			shutdown()
		}
		stop()
		<-shut
		for range 2 {
			<-served
		}
	})

	probes := map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe}
	admin := adminLn.Addr().String()
	for kind, p := range probes {
		port, _ := containerPort(c, p.HTTPGet.Port)
		// The kubelet counts 200-399 as success.
		if code, body := kubeletGet(t, admin, port, p.HTTPGet.Path); code < 200 || code >= 400 {
			t.Errorf("%s probe GET %s: %d %s", kind, p.HTTPGet.Path, code, body)
		}
	}

	stopped = true
	shutdown()
	readiness := c.ReadinessProbe.HTTPGet
	readyPort, _ := containerPort(c, readiness.Port)
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _ := kubeletGet(t, admin, readyPort, readiness.Path)
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness %s still answers %d after shutdown began", readiness.Path, code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	liveness := c.LivenessProbe.HTTPGet
	livePort, _ := containerPort(c, liveness.Port)
	if code, body := kubeletGet(t, admin, livePort, liveness.Path); code != http.StatusOK {
		t.Errorf("liveness during shutdown_delay: %d %s: the kubelet would restart a draining pod", code, body)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(fmt.Sprintf("http://%s/hello", proxyLn.Addr()))
	if err != nil {
		t.Fatalf("the proxy during shutdown_delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the proxy during shutdown_delay answered %d, want 200", resp.StatusCode)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
