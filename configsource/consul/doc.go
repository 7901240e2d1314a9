// Package consul keeps a fleet's configuration in Consul KV: a Source
// follows the version published under a prefix and hands each new one to
// a reloader.Target (the gateway), and a Publisher writes a new version
// and makes it current with check-and-set.
//
// The layout under the prefix P (a KV path, no leading "/"), as for etcd:
//
//	P current                      the number of the version served, "7"
//	P versions/7/manifest          JSON: each file's name, size and SHA-256
//	P versions/7/files/gateway.yaml       the main file
//	P versions/7/files/routes.d/a.yaml    a file it includes
//
// Publishing writes a version's keys first, each only if it does not
// exist yet (PUT ?cas=0), the manifest last, then flips current with
// PUT ?cas=<the ModifyIndex it read>: Consul answers false when another
// publisher flipped it in between, and nothing is made current. (Consul's
// /v1/txn could write a version in one transaction, but holds at most 64
// operations; the pointer and the manifest already keep instances from
// seeing half a version.)
//
// A Source reads current with Consul blocking queries, as discovery/consul
// does (?index= the last X-Consul-Index, ?wait=; an index that goes
// backwards is reset to 0, an index of 0 is taken as 1; queries start at
// least MinInterval apart; a failure is retried after a jittered backoff,
// with a plain read first). A missing key is a 404 that still carries an
// index. When current names a version it does not serve, it reads the
// whole version in one ?recurse read of P versions/N/ (base64 values),
// checks every file against the manifest, loads it with the checks of a
// configuration file, and hands it to its Target. No answer is read much
// beyond max_bytes (base64 and JSON included): a larger value is refused
// without being held in memory. The last good version is written to a
// state file, which serves when Consul does not answer at the start.
package consul
