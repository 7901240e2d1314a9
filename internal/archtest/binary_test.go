package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// testOnly lists, per package whose tests bring modules the gateway binary
// must never link, the external modules its tests may import.
var testOnly = map[string][]string{
	// The manifests' checks decode them into the Kubernetes API types.
	"deploy": {"config", "gateway", "reloader", "certs/certstest", "k8s.io/api", "k8s.io/apimachinery", "sigs.k8s.io/json", "sigs.k8s.io/yaml", "go.uber.org/goleak"},
}

// TestKubernetesOutOfTheBinary: the Kubernetes modules that deploy's tests
// use stay out of the gateway binary (nothing outside deploy's tests
// imports them, and nothing imports deploy), and deploy's tests import
// only what testOnly allows.
func TestKubernetesOutOfTheBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-pgo=off", "-deps", module+"/cmd/gateway").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "k8s.io/") || strings.HasPrefix(dep, "sigs.k8s.io/") || dep == module+"/deploy" {
			t.Errorf("cmd/gateway links %s: the Kubernetes types are for deploy's tests only", dep)
		}
	}
	for pkg, rules := range testOnly {
		out, err := exec.Command("go", "list", "-pgo=off", "-f", `{{join .TestImports "\n"}}`, module+"/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, imp := range strings.Fields(string(out)) {
			if !isStd(imp) && !permitted(imp, rules) {
				t.Errorf("%s's tests import %s, which testOnly does not allow", pkg, imp)
			}
		}
	}
}
