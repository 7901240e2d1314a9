// Package metrics holds the gateway's Prometheus collectors.
//
// Collectors are registered on a registry the caller injects, never on the
// global one. Per-route series are resolved once, when a route is compiled,
// and kept on the route ([Route]), so the request path never looks up a
// label value.
package metrics
