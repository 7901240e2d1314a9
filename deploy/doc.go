// Package deploy holds the gateway's Kubernetes manifests (base/,
// components/, overlays/: plain YAML laid out for kustomize) and, in its
// tests only, their checks: every manifest decoded strictly into the
// Kubernetes API types, each kustomization built without the kustomize
// tool, and the result held to the gateway's own configuration and
// behaviour (probe paths served by a real gateway, ports, shutdown
// timing, the ConfigMap mounted as a directory, security context,
// resources sized from the measured memory per connection).
//
// The package has no code of its own: nothing imports it, so the
// Kubernetes modules its tests use never reach the gateway binary.
// docs/kubernetes.md explains the manifests.
package deploy
