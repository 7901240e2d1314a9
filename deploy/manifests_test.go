package deploy

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/fastgate/gateway/config"
)

// kustomizations lists the directories holding a kustomization.yaml,
// whatever its kind.
func kustomizations(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.Name() == "kustomization.yaml" {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no kustomization.yaml under deploy/")
	}
	return dirs
}

// buildAll builds every Kustomization (components are built through the
// overlays that use them) and returns them by directory, with every file
// the builds read.
func buildAll(t *testing.T) (builds map[string][]*object, used map[string]bool) {
	t.Helper()
	builds = map[string][]*object{}
	used = map[string]bool{}
	for _, dir := range kustomizations(t) {
		k, err := readKustomization(dir)
		if err != nil {
			t.Fatal(err)
		}
		if k.Kind != kindKustomization {
			continue
		}
		objs, err := build(dir, used)
		if err != nil {
			t.Fatalf("build %s: %v", dir, err)
		}
		builds[dir] = objs
	}
	return builds, used
}

// TestEveryManifestIsBuilt: every YAML file under deploy/ is read by the
// build of some Kustomization (so the checks below saw it), and every
// path a kustomization.yaml names exists (build fails otherwise).
func TestEveryManifestIsBuilt(t *testing.T) {
	_, used := buildAll(t)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".yaml") && !used[path] {
			t.Errorf("%s is in no kustomization that a Kustomization builds", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStrictDecode: the decoder these checks rely on refuses a misspelt
// field, a duplicate key and a kind it has no type for.
func TestStrictDecode(t *testing.T) {
	for _, tt := range []struct {
		desc, give, want string
	}{
		{
			desc: "misspelt field",
			give: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers:\n        - name: x\n          readinesProbe: {}\n",
			want: `unknown field "spec.template.spec.containers[0].readinesProbe"`,
		},
		{
			desc: "field in the wrong case",
			give: "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ClusterIP: None}\n",
			want: `unknown field "spec.ClusterIP"`,
		},
		{
			desc: "duplicate key",
			give: "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nmetadata: {name: y}\n",
			want: `"metadata" already set`,
		},
		{
			desc: "unknown kind",
			give: "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
			want: "v1/Pod is not one this test knows",
		},
		{
			desc: "misspelt ServiceMonitor field",
			give: "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\nspec:\n  endpoints: [{port: admin, intervall: 15s}]\n",
			want: `unknown field "spec.endpoints[0].intervall"`,
		},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "x.yaml")
			if err := os.WriteFile(file, []byte(tt.give), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := readManifests(file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestManifests holds every built Kustomization to the gateway's
// configuration: see the checks named in each sub-test.
func TestManifests(t *testing.T) {
	builds, _ := buildAll(t)
	for dir, objs := range builds {
		t.Run(dir, func(t *testing.T) {
			d := deploymentOf(t, objs)
			c := container(t, d)
			cfg, _, _ := loadConfig(t, objs, d)
			t.Run("labels and selectors", func(t *testing.T) { checkSelectors(t, objs, d) })
			t.Run("config volume", func(t *testing.T) { checkConfigVolume(t, objs, d) })
			t.Run("tls volume", func(t *testing.T) { checkTLSVolume(t, d) })
			t.Run("ports", func(t *testing.T) { checkPorts(t, c, cfg) })
			t.Run("probes", func(t *testing.T) { checkProbes(t, c) })
			t.Run("shutdown", func(t *testing.T) { checkShutdown(t, d, cfg) })
			t.Run("security context", func(t *testing.T) { checkSecurity(t, d) })
			t.Run("resources", func(t *testing.T) { checkResources(t, c, cfg) })
			t.Run("autoscaling", func(t *testing.T) { checkAutoscaling(t, objs, d) })
			t.Run("service monitor", func(t *testing.T) { checkServiceMonitor(t, objs) })
		})
	}
}

// typed returns the objects of type T.
func typed[T any](objs []*object) []*T {
	var out []*T
	for _, o := range objs {
		if v, ok := o.typed.(*T); ok {
			out = append(out, v)
		}
	}
	return out
}

func deploymentOf(t *testing.T, objs []*object) *appsv1.Deployment {
	t.Helper()
	ds := typed[appsv1.Deployment](objs)
	if len(ds) != 1 {
		t.Fatalf("%d Deployments, want 1", len(ds))
	}
	return ds[0]
}

// container returns the gateway container: the pod's only one.
func container(t *testing.T, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want the gateway alone", len(cs))
	}
	return &cs[0]
}

// containerPort resolves a probe's or Service's port (number or name).
func containerPort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// namedPort returns the container port of the given name.
func namedPort(t *testing.T, c *corev1.Container, name string) int32 {
	t.Helper()
	p, ok := containerPort(c, intstr.FromString(name))
	if !ok {
		t.Fatalf("the container has no port named %q", name)
	}
	return p
}

func checkSelectors(t *testing.T, objs []*object, d *appsv1.Deployment) {
	pod := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(pod) {
		t.Errorf("the Deployment's selector %v does not match its pods' labels %v", d.Spec.Selector, pod)
	}
	c := &d.Spec.Template.Spec.Containers[0]
	for _, s := range typed[corev1.Service](objs) {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(pod) {
			t.Errorf("Service %s selects %v, not the gateway's pods %v", s.Name, s.Spec.Selector, pod)
		}
		for _, p := range s.Spec.Ports {
			if _, ok := containerPort(c, p.TargetPort); !ok {
				t.Errorf("Service %s port %s targets %s, which the container does not have", s.Name, p.Name, p.TargetPort.String())
			}
		}
	}
	for _, pdb := range typed[policyv1.PodDisruptionBudget](objs) {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(pod) {
			t.Errorf("PodDisruptionBudget %s selects %v, not the gateway's pods", pdb.Name, pdb.Spec.Selector)
		}
		// minAvailable would block every drain of a single replica.
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MinAvailable != nil {
			t.Errorf("PodDisruptionBudget %s: want maxUnavailable, not minAvailable", pdb.Name)
		}
	}
}

// volumeMount returns the container's mount of the named volume.
func volumeMount(t *testing.T, c *corev1.Container, name string) *corev1.VolumeMount {
	t.Helper()
	var found *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if m.Name == name {
			if found != nil {
				t.Fatalf("volume %s is mounted twice", name)
			}
			found = &c.VolumeMounts[i]
		}
	}
	if found == nil {
		t.Fatalf("volume %s is not mounted", name)
	}
	return found
}

// asDirectory fails unless m mounts a whole volume read-only: a subPath
// mount keeps the files it first saw and never sees an update.
func asDirectory(t *testing.T, m *corev1.VolumeMount) {
	t.Helper()
	if m.SubPath != "" || m.SubPathExpr != "" {
		t.Errorf("volume %s is mounted with subPath: it would never see an update; mount the directory", m.Name)
	}
	if !m.ReadOnly {
		t.Errorf("volume %s is mounted writable", m.Name)
	}
}

// configVolume returns the pod's volume of the ConfigMap the -config
// argument reads from, its mount, and the file's key in the ConfigMap.
func configVolume(t *testing.T, d *appsv1.Deployment) (*corev1.Volume, *corev1.VolumeMount, string) {
	t.Helper()
	c := container(t, d)
	i := slices.Index(c.Args, "-config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("the container's args %q name no -config file", c.Args)
	}
	file := c.Args[i+1]
	for _, m := range c.VolumeMounts {
		rel, err := filepath.Rel(m.MountPath, file)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for j, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				return &d.Spec.Template.Spec.Volumes[j], &m, rel
			}
		}
	}
	t.Fatalf("-config %s is in no ConfigMap volume", file)
	return nil, nil, ""
}

func checkConfigVolume(t *testing.T, objs []*object, d *appsv1.Deployment) {
	v, m, _ := configVolume(t, d)
	asDirectory(t, m)
	if len(v.ConfigMap.Items) > 0 {
		t.Errorf("volume %s lists items: a key added to the ConfigMap later would not appear", v.Name)
	}
	if v.ConfigMap.Optional != nil && *v.ConfigMap.Optional {
		t.Errorf("volume %s is optional: the gateway cannot start without its configuration", v.Name)
	}
	if configMapNamed(t, objs, v.ConfigMap.Name) == nil {
		t.Errorf("volume %s names ConfigMap %s, which is not in the build", v.Name, v.ConfigMap.Name)
	}
}

// TLSMountPath is where the certificates' Secret is mounted: the path a
// tls section names (cert_file: /etc/gateway-tls/tls.crt).
const tlsMountPath = "/etc/gateway-tls"

func checkTLSVolume(t *testing.T, d *appsv1.Deployment) {
	c := container(t, d)
	m := volumeMount(t, c, "tls")
	asDirectory(t, m)
	if m.MountPath != tlsMountPath {
		t.Errorf("the tls volume is mounted at %s, want %s (docs/kubernetes.md names it)", m.MountPath, tlsMountPath)
	}
	_, cm, _ := configVolume(t, d)
	if rel, err := filepath.Rel(cm.MountPath, m.MountPath); err == nil && !strings.HasPrefix(rel, "..") {
		t.Errorf("the tls volume is mounted inside the configuration's (%s): nested in a ConfigMap volume it breaks the ..data swap", cm.MountPath)
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name != "tls" {
			continue
		}
		s := v.Secret
		if s == nil {
			t.Fatal("the tls volume is not a Secret")
		}
		if s.Optional == nil || !*s.Optional {
			t.Error("the tls Secret is not optional: pods would not start before it exists, TLS or not")
		}
		if len(s.Items) > 0 {
			t.Error("the tls volume lists items: a renewed certificate under another key would not appear")
		}
		if s.DefaultMode == nil || *s.DefaultMode&0o007 != 0 {
			t.Error("the private key is readable by others: want defaultMode 0440 (with fsGroup)")
		}
		return
	}
	t.Fatal("no volume named tls")
}

// hostPort splits a listen address into its host and port.
func hostPort(t *testing.T, addr string) (string, int32) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return host, int32(n)
}

func checkPorts(t *testing.T, c *corev1.Container, cfg *config.Config) {
	if _, p := hostPort(t, cfg.Listen); p != namedPort(t, c, "http") {
		t.Errorf("container port http is %d, the configuration listens on %s", namedPort(t, c, "http"), cfg.Listen)
	}
	host, p := hostPort(t, cfg.Admin)
	if p != namedPort(t, c, "admin") {
		t.Errorf("container port admin is %d, the configuration's admin listens on %s", namedPort(t, c, "admin"), cfg.Admin)
	}
	// The kubelet and Prometheus connect to the pod's address.
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("admin listens on %s: probes and scrapes reach the pod's address, not %s", cfg.Admin, host)
	}
	if len(c.Ports) != 2 {
		t.Errorf("the container declares %d ports, want http and admin (a tls port comes with a tls section)", len(c.Ports))
	}
}

// The admin endpoints probes may use: served by the gateway (the gateway
// test GETs them from a real one, as the kubelet does).
var probePaths = map[string]string{"readiness": "/readyz", "liveness": "/healthz"}

func checkProbes(t *testing.T, c *corev1.Container) {
	for kind, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no %s httpGet probe", kind)
			continue
		}
		g := p.HTTPGet
		if g.Path != probePaths[kind] {
			t.Errorf("%s probe GETs %s, want %s", kind, g.Path, probePaths[kind])
		}
		if port, ok := containerPort(c, g.Port); !ok || port != namedPort(t, c, "admin") {
			t.Errorf("%s probe port %s is not the admin port", kind, g.Port.String())
		}
		if g.Host != "" {
			t.Errorf("%s probe sets host %q: leave it to the pod IP", kind, g.Host)
		}
		for _, h := range g.HTTPHeaders {
			if strings.EqualFold(h.Name, "Host") {
				t.Errorf("%s probe sets a Host header: the pod IP the kubelet sends is what the admin listener accepts", kind)
			}
		}
		if g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s probe scheme %s: the admin listener is plain HTTP", kind, g.Scheme)
		}
	}
	if c.LivenessProbe != nil && c.ReadinessProbe != nil &&
		c.LivenessProbe.PeriodSeconds*c.LivenessProbe.FailureThreshold <= c.ReadinessProbe.PeriodSeconds*c.ReadinessProbe.FailureThreshold {
		t.Error("liveness gives up before readiness: a slow gateway would be restarted before it is taken out of the Service")
	}
}
