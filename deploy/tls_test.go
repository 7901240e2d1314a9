package deploy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fastgate/gateway/certs/certstest"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
)

// hasKey reports whether the configuration schema has the top-level key.
func hasKey(key string) bool {
	t := reflect.TypeFor[config.Config]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == key {
			return true
		}
	}
	return false
}

// docBlock returns the fenced block of the language lang in file whose
// first line is first.
func docBlock(t *testing.T, file, lang, first string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range strings.Split(string(b), "```"+lang+"\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		if strings.HasPrefix(block, first) {
			return block
		}
	}
	t.Fatalf("%s has no %s block beginning %q", file, lang, first)
	return ""
}

// TestTLSSectionOnSecretMount: the tls section docs/kubernetes.md gives,
// added to the base's configuration, loads with the certificates where
// the Deployment mounts the gateway-tls Secret (a kubernetes.io/tls
// Secret's keys tls.crt and tls.key, laid out as the kubelet mounts it).
// It runs once the configuration has a tls section.
func TestTLSSectionOnSecretMount(t *testing.T) {
	if !hasKey("tls") {
		t.Skip("the configuration has no tls section yet: the HTTPS listener is being wired")
	}
	objs, err := build("base", map[string]bool{})
	if err != nil {
		t.Fatal(err)
	}
	d := deploymentOf(t, objs)
	_, cmMount, key := configVolume(t, d)
	if m := volumeMount(t, container(t, d), "tls"); m.MountPath != tlsMountPath {
		t.Fatalf("the tls volume is mounted at %s, the docs name %s", m.MountPath, tlsMountPath)
	}
	snippet := docBlock(t, "../docs/kubernetes.md", "text", "tls:")
	if !strings.Contains(snippet, tlsMountPath+"/tls.crt") || !strings.Contains(snippet, tlsMountPath+"/tls.key") {
		t.Fatalf("the docs' tls section does not name %s/tls.crt and tls.key:\n%s", tlsMountPath, snippet)
	}

	leaf := certstest.NewCA(t, "deploy test CA").Issue(t, certstest.LeafOptions{Names: []string{"gateway.example.com"}})
	secret := &volume{dir: t.TempDir()}
	secret.write(t, map[string]string{"tls.crt": string(leaf.CertPEM), "tls.key": string(leaf.KeyPEM)})

	cm := configMapNamed(t, objs, "gateway-config")
	if cm == nil {
		t.Fatal("no ConfigMap gateway-config")
	}
	files := map[string]string{}
	for k, v := range cm.Data {
		files[k] = v
	}
	files[key] += strings.ReplaceAll(snippet, tlsMountPath, secret.dir)
	conf := &volume{dir: t.TempDir()}
	conf.write(t, files)
	cfg, err := config.Load(filepath.Join(conf.dir, key), gateway.RouteConflicts)
	if err != nil {
		t.Fatalf("the base's %s (mounted at %s) with the docs' tls section: %v", key, cmMount.MountPath, err)
	}
	if err := gateway.Check(cfg); err != nil {
		t.Fatal(err)
	}
}
