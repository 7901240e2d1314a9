// Package ttlcache is the bounded, expiring, concurrency-safe map that the
// auth methods keep their verified credentials and decisions in.
//
// It is split into shards, each a map under its own RWMutex, so that
// readers on many cores rarely meet; a lookup takes one read lock and does
// not allocate. When a shard is full, an insert first drops an expired
// entry it meets and otherwise an arbitrary one: the cache stays bounded
// whatever callers send, at the price of an occasional re-verification.
package ttlcache
