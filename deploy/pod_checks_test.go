package deploy

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/fastgate/gateway/config"
)

// The checks of TestManifests that hold the pod to the gateway's
// behaviour: shutdown timing, security context, resources, and the
// optional parts.

func seconds(n int64) time.Duration { return time.Duration(n) * time.Second }

// checkShutdown: no request is dropped in a rollout. On deletion the pod
// leaves the Service's endpoints while the preStop sleep holds SIGTERM
// back; then /readyz turns 503 and the gateway keeps serving for
// shutdown_delay, long enough for the readiness probe to mark it not
// serving; then it drains for at most drain_timeout. The grace period,
// which counts the preStop hook, covers all three.
func checkShutdown(t *testing.T, d *appsv1.Deployment, cfg *config.Config) {
	c := container(t, d)
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("no preStop sleep (the image has no shell: use the sleep action)")
	}
	preStop := seconds(c.Lifecycle.PreStop.Sleep.Seconds)
	delay, drain := cfg.Server.ShutdownDelay, cfg.Server.DrainTimeout
	if preStop < delay {
		t.Errorf("preStop sleeps %v, under server.shutdown_delay %v", preStop, delay)
	}
	if r := c.ReadinessProbe; r != nil {
		if unready := seconds(int64(r.PeriodSeconds * r.FailureThreshold)); delay < unready {
			t.Errorf("server.shutdown_delay %v ends before the readiness probe can see 503 (every %ds, %d failures)",
				delay, r.PeriodSeconds, r.FailureThreshold)
		}
	}
	grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil || seconds(*grace) < preStop+delay+drain {
		var g time.Duration
		if grace != nil {
			g = seconds(*grace)
		}
		t.Errorf("terminationGracePeriodSeconds %v under preStop %v + shutdown_delay %v + drain_timeout %v", g, preStop, delay, drain)
	}
	s := d.Spec.Strategy
	if s.RollingUpdate == nil || s.RollingUpdate.MaxUnavailable == nil || s.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Error("a rollout may take pods away before their replacements are ready: want maxUnavailable 0")
	}
}

func checkSecurity(t *testing.T, d *appsv1.Deployment) {
	ps := d.Spec.Template.Spec.SecurityContext
	c := container(t, d)
	cs := c.SecurityContext
	if ps == nil || cs == nil {
		t.Fatal("no pod or container securityContext")
	}
	if !isTrue(ps.RunAsNonRoot) && !isTrue(cs.RunAsNonRoot) {
		t.Error("runAsNonRoot is not set")
	}
	for _, uid := range []*int64{ps.RunAsUser, cs.RunAsUser} {
		if uid != nil && *uid == 0 {
			t.Error("runAsUser 0")
		}
	}
	seccomp := ps.SeccompProfile
	if cs.SeccompProfile != nil {
		seccomp = cs.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("seccomp profile is not RuntimeDefault")
	}
	if !isTrue(cs.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem is not set")
	}
	if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) > 0 {
		t.Error("capabilities: want drop [ALL] and none added")
	}
	if isTrue(cs.Privileged) {
		t.Error("privileged")
	}
	if d.Spec.Template.Spec.AutomountServiceAccountToken == nil || *d.Spec.Template.Spec.AutomountServiceAccountToken {
		t.Error("the service account token is mounted: the gateway never calls the Kubernetes API")
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

// measured reads the figures resources are sized from out of
// docs/performance.md, so that a new measurement re-checks the sizing:
// memory per idle keep-alive connection, and the highest peak RSS of the
// load benchmark.
func measured(t *testing.T) (perConn, rss int64) {
	t.Helper()
	doc, err := os.ReadFile("../docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\*\*Memory per idle keep-alive client connection\*\*: about (\d+) KiB`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/performance.md: no memory per idle connection figure")
	}
	kib, _ := strconv.ParseInt(string(m[1]), 10, 64)
	for _, m := range regexp.MustCompile(`\| (\d+) / \d+ MiB \|`).FindAllSubmatch(doc, -1) {
		mib, _ := strconv.ParseInt(string(m[1]), 10, 64)
		rss = max(rss, mib<<20)
	}
	if rss == 0 {
		t.Fatal("docs/performance.md: no peak RSS figure")
	}
	return kib << 10, rss
}

// defaultCacheBytes is cache.max_bytes' default, the fallback cache's
// bound when the configuration sets none.
const defaultCacheBytes = 64 << 20

func checkResources(t *testing.T, c *corev1.Container, cfg *config.Config) {
	perConn, rss := measured(t)
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		t.Fatal("no memory limit")
	}
	conns := int64(cfg.Server.Concurrency)
	if conns == 0 {
		t.Fatal("server.concurrency is not set: derived from the open-file limit, it can exceed what the memory limit holds")
	}
	cache := int64(defaultCacheBytes)
	if cfg.Cache != nil {
		cache = int64(cfg.Cache.MaxBytes)
	}
	need := rss + conns*perConn + cache
	if limit.Value() < need {
		t.Errorf("memory limit %s under %d MiB: %d MiB resident + %d connections × %d KiB + %d MiB cache",
			limit.String(), need>>20, rss>>20, conns, perConn>>10, cache>>20)
	}
	if req, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok || req.Cmp(limit) != 0 {
		t.Errorf("memory request %s, want the limit %s: sized for what it holds, never evicted for using it", req.String(), limit.String())
	}
	if cpu, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok || cpu.IsZero() {
		t.Error("no CPU request: the scheduler and the autoscaler's target need one")
	}
	if _, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		t.Error("a CPU limit: throttling adds latency to every request")
	}
	var memlimit bool
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil &&
			e.ValueFrom.ResourceFieldRef.Resource == "limits.memory" {
			d := e.ValueFrom.ResourceFieldRef.Divisor
			memlimit = d.IsZero() || d.Cmp(resource.MustParse("1")) == 0 // bytes, as GOMEMLIMIT reads a bare number
		}
	}
	if !memlimit {
		t.Error("GOMEMLIMIT is not the container's memory limit in bytes")
	}
}

func checkAutoscaling(t *testing.T, objs []*object, d *appsv1.Deployment) {
	hpas := typed[autoscalingv2.HorizontalPodAutoscaler](objs)
	if len(hpas) == 0 {
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
			t.Error("without an autoscaler, want at least 2 replicas: one pod is an outage at every node drain")
		}
		return
	}
	for _, h := range hpas {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
			t.Errorf("HorizontalPodAutoscaler %s scales %s %s, not the Deployment %s", h.Name, ref.Kind, ref.Name, d.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 {
			t.Errorf("HorizontalPodAutoscaler %s may scale to one pod", h.Name)
		}
	}
	if d.Spec.Replicas != nil {
		t.Error("the Deployment sets replicas beside an autoscaler: every apply resets the count it chose")
	}
}

func checkServiceMonitor(t *testing.T, objs []*object) {
	for _, sm := range typed[serviceMonitor](objs) {
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil || sel.Empty() {
			t.Fatalf("ServiceMonitor %s: selector %v", sm.Name, sm.Spec.Selector)
		}
		var svc *corev1.Service
		for _, s := range typed[corev1.Service](objs) {
			if sel.Matches(labels.Set(s.Labels)) {
				if svc != nil {
					t.Errorf("ServiceMonitor %s selects Services %s and %s: it would scrape pods twice", sm.Name, svc.Name, s.Name)
				}
				svc = s
			}
		}
		if svc == nil {
			t.Fatalf("ServiceMonitor %s selects no Service", sm.Name)
		}
		if len(sm.Spec.Endpoints) == 0 {
			t.Errorf("ServiceMonitor %s has no endpoints", sm.Name)
		}
		for _, e := range sm.Spec.Endpoints {
			if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == e.Port }) {
				t.Errorf("ServiceMonitor %s scrapes port %q, which Service %s does not name", sm.Name, e.Port, svc.Name)
			}
			if e.Path != "/metrics" {
				t.Errorf("ServiceMonitor %s scrapes %s, want /metrics", sm.Name, e.Path)
			}
		}
		// The alerting rules select up{job="gateway"}.
		if job := svc.Labels[sm.Spec.JobLabel]; job != "gateway" {
			t.Errorf("ServiceMonitor %s: the job label would be %q, the alerting rules want job=\"gateway\"", sm.Name, job)
		}
	}
}
