// Package configsource holds what every registry that a fleet's
// configuration is published to shares: a Version (a complete
// configuration as a set of named files), its Manifest (each file's size
// and SHA-256, so a half-written or altered version is refused), its
// loading with the checks and positions of files (an error names the
// registry key and the line and column inside its value), the Follower
// that makes the version a pointer names serve once, refuses what cannot
// serve once while the last good version keeps serving, and reports both,
// and the last good version's copy on disk, so that an instance restarted
// while the registry is down still serves.
//
// The registries themselves are adapters below it, each with its own
// way of following the pointer and of publishing: configsource/etcd (a
// watch, one transaction), configsource/consul (blocking queries,
// check-and-set).
package configsource
