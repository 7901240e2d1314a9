// Package consultest is the tests' Consul, since no Consul server can be
// installed where the tests run: the recorded answers of a real agent
// (testdata/, Load), an Agent that serves a fake endpoint on loopback the
// way an agent does (stopped and started on the same port, failing,
// hanging, refusing a token, holding blocking queries), and KV, the KV
// endpoints over the keys a test writes, answered with the recorded
// status lines, headers and body shapes, blocking-query index rules
// included. discovery/consul's tests serve the health endpoint on an
// Agent.
package consultest
