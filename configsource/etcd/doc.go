// Package etcd keeps a fleet's configuration in etcd: a Source follows
// the version published under a prefix and hands each new one to a
// reloader.Target (the gateway), and a Publisher writes a new version and
// makes it current in one transaction.
//
// The layout under the prefix P:
//
//	P current                      the number of the version served, "7"
//	P versions/7/manifest          JSON: each file's name, size and SHA-256
//	P versions/7/files/gateway.yaml       the main file
//	P versions/7/files/routes.d/a.yaml    a file it includes
//
// A version's keys are written once and never changed. Publishing puts a
// version's files, its manifest and the new current in one transaction
// that holds only if current was not changed since the publisher read it
// (its mod revision), so two publishers cannot overwrite each other and
// an instance never sees half of a version. Rolling back is pointing
// current at an older number (etcdctl put P current 6).
//
// A Source reads current, then the version it names, checks every file
// against the manifest (a half-written or altered version, one too
// large, one that is gone, is refused), loads it with the checks of a
// configuration file, and hands it to its Target; then it watches
// current. A watch that falls behind a compaction, loses the leader, or
// loses etcd, reads current again (one key) with a jittered backoff:
// nothing is applied when the number is the one serving. The last good
// version is written to a state file, which serves when etcd does not
// answer at the start.
package etcd
