// Package consultest is the tests' Consul: an HTTP server on loopback that
// answers Consul's KV endpoints with the status lines, headers and body
// shapes of a real agent's recorded answers (testdata/), over the keys a
// test writes, blocking-query index rules included. No Consul server can
// be installed where the tests run.
package consultest
