package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// This file builds a kustomization the way `kubectl apply -k` does, for
// the subset of kustomize these manifests use (resources, components and
// strategic-merge patches that set or delete map fields), so that the
// checks need neither the tool nor the network. Anything else in a
// kustomization.yaml is refused by the strict decode, so that a manifest
// cannot start relying on a feature this builder would silently skip.

// kustomization is the part of kustomize's Kustomization and Component
// these manifests use.
type kustomization struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Resources  []string   `json:"resources,omitempty"`
	Components []string   `json:"components,omitempty"`
	Patches    []patchRef `json:"patches,omitempty"`
}

// patchRef names a strategic-merge patch file.
type patchRef struct {
	Path string `json:"path"`
}

// The kinds of kustomization.yaml, by apiVersion.
const (
	kindKustomization = "Kustomization"
	kindComponent     = "Component"
	kustomizeV1beta1  = "kustomize.config.k8s.io/v1beta1"
	kustomizeV1alpha1 = "kustomize.config.k8s.io/v1alpha1"
)

// serviceMonitor is the part of the Prometheus Operator's
// monitoring.coreos.com/v1 ServiceMonitor that the manifests use: its
// types are not in k8s.io/api, and the strict decode against this subset
// still catches a misspelt field.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel  string               `json:"jobLabel,omitempty"`
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// apiTypes maps "apiVersion/kind" to a new value of its Go type. A kind
// missing here fails the build: add its type to check it.
var apiTypes = map[string]func() any{
	"v1/ConfigMap":                            func() any { return new(corev1.ConfigMap) },
	"v1/Service":                              func() any { return new(corev1.Service) },
	"apps/v1/Deployment":                      func() any { return new(appsv1.Deployment) },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"policy/v1/PodDisruptionBudget":           func() any { return new(policyv1.PodDisruptionBudget) },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return new(serviceMonitor) },
}

// object is one manifest: where it came from, its fields as decoded YAML
// (patches apply to these) and, once built, its typed value.
type object struct {
	file  string
	raw   map[string]any
	typed any
}

func (o *object) id() string {
	meta, _ := o.raw["metadata"].(map[string]any)
	return fmt.Sprintf("%v/%v/%v", o.raw["apiVersion"], o.raw["kind"], meta["name"])
}

// decodeStrict decodes YAML into v, refusing unknown and duplicate fields.
func decodeStrict(data []byte, v any) error {
	return yaml.UnmarshalStrict(data, v)
}

// typedOf decodes raw into the Go type of its apiVersion and kind,
// strictly.
func typedOf(raw map[string]any) (any, error) {
	key := fmt.Sprintf("%v/%v", raw["apiVersion"], raw["kind"])
	newType, ok := apiTypes[key]
	if !ok {
		return nil, fmt.Errorf("kind %s is not one this test knows: add its type to apiTypes", key)
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	// As the API server decodes: field names match case-sensitively, and
	// an unknown one is an error naming its path.
	v := newType()
	strict, err := kjson.UnmarshalStrict(data, v)
	if err == nil {
		err = errors.Join(strict...)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return v, nil
}

// readManifests reads every YAML document of file, each decoded strictly:
// duplicate keys refused by the YAML decode, unknown fields by the typed
// one.
func readManifests(file string) ([]*object, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var raw map[string]any
		if err := decodeStrict(doc, &raw); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		typed, err := typedOf(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		objs = append(objs, &object{file: file, raw: raw, typed: typed})
	}
	return objs, nil
}

// stripComments drops the comment lines of a YAML document, to tell a
// document of comments only from one with content.
func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

// readKustomization reads dir's kustomization.yaml strictly.
func readKustomization(dir string) (*kustomization, error) {
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k kustomization
	if err := decodeStrict(data, &k); err != nil {
		return nil, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	switch {
	case k.Kind == kindKustomization && k.APIVersion == kustomizeV1beta1:
	case k.Kind == kindComponent && k.APIVersion == kustomizeV1alpha1:
	default:
		return nil, fmt.Errorf("%s/kustomization.yaml: kind %q apiVersion %q: want %s %s or %s %s",
			dir, k.Kind, k.APIVersion, kindKustomization, kustomizeV1beta1, kindComponent, kustomizeV1alpha1)
	}
	return &k, nil
}

// build renders the Kustomization in dir: its resources (files, or
// directories holding a Kustomization), then its components (each adds
// its resources and patches what is there so far), then its own patches.
// used collects every file read.
func build(dir string, used map[string]bool) ([]*object, error) {
	k, err := readKustomization(dir)
	if err != nil {
		return nil, err
	}
	if k.Kind != kindKustomization {
		return nil, fmt.Errorf("%s: a %s cannot be built alone", dir, k.Kind)
	}
	used[filepath.Join(dir, "kustomization.yaml")] = true
	return apply(dir, k, nil, used)
}

// apply adds k's resources to objs, then its components and patches.
func apply(dir string, k *kustomization, objs []*object, used map[string]bool) ([]*object, error) {
	for _, res := range k.Resources {
		path := filepath.Join(dir, res)
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("%s/kustomization.yaml: resource %s: %w", dir, res, err)
		}
		var more []*object
		if st.IsDir() {
			more, err = build(path, used)
		} else {
			used[path] = true
			more, err = readManifests(path)
		}
		if err != nil {
			return nil, err
		}
		objs = append(objs, more...)
	}
	for _, c := range k.Components {
		path := filepath.Join(dir, c)
		ck, err := readKustomization(path)
		if err != nil {
			return nil, fmt.Errorf("%s/kustomization.yaml: component %s: %w", dir, c, err)
		}
		if ck.Kind != kindComponent {
			return nil, fmt.Errorf("%s/kustomization.yaml: component %s is a %s", dir, c, ck.Kind)
		}
		used[filepath.Join(path, "kustomization.yaml")] = true
		if objs, err = apply(path, ck, objs, used); err != nil {
			return nil, err
		}
	}
	for _, p := range k.Patches {
		path := filepath.Join(dir, p.Path)
		used[path] = true
		if err := patchFile(path, objs); err != nil {
			return nil, err
		}
	}
	seen := map[string]string{}
	for _, o := range objs {
		if prev, dup := seen[o.id()]; dup {
			return nil, fmt.Errorf("%s: %s is also in %s", o.file, o.id(), prev)
		}
		seen[o.id()] = o.file
	}
	return objs, nil
}

// patchFile applies the strategic-merge patch in path to the object of
// the same apiVersion, kind and name, and decodes the result strictly.
func patchFile(path string, objs []*object) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var patch map[string]any
	if err := decodeStrict(data, &patch); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	target := &object{raw: patch}
	for _, o := range objs {
		if o.id() != target.id() {
			continue
		}
		if err := mergePatch(o.raw, patch, ""); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if o.typed, err = typedOf(o.raw); err != nil {
			return fmt.Errorf("%s: patched %s: %w", path, o.id(), err)
		}
		return nil
	}
	return fmt.Errorf("%s: no %s to patch", path, target.id())
}

// mergePatch merges patch into dst as a strategic-merge patch does for
// maps and scalars: a null deletes the field, maps merge, other values
// replace. Lists merge by keys in kustomize; this builder refuses them
// rather than guess.
func mergePatch(dst, patch map[string]any, at string) error {
	for k, v := range patch {
		path := strings.TrimPrefix(at+"."+k, ".")
		switch v := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			sub, ok := dst[k].(map[string]any)
			if !ok {
				sub = map[string]any{}
				dst[k] = sub
			}
			if err := mergePatch(sub, v, path); err != nil {
				return err
			}
		case []any:
			return fmt.Errorf("%s: a patch of a list: not supported by this test's builder", path)
		default:
			dst[k] = v
		}
	}
	return nil
}
