// Package gateway turns a configuration into a serving proxy.
//
// A [Gateway] owns the fasthttp server, the admin listener and the current
// snapshot. A snapshot is everything compiled from one configuration: the
// route table, each route's pipeline, and the upstream pools. The request
// path loads the snapshot with one atomic load and never takes a lock; a new
// configuration is compiled beside the serving one and swapped in with one
// pointer store, so requests in flight finish on the snapshot they started
// with.
//
// Errors become HTTP statuses in exactly one place, errors.go.
package gateway
