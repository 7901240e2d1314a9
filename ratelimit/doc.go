// Package ratelimit decides whether a request may pass a route's rate
// limit. The gateway extracts the key (route name, client address, header
// or query value) and asks a Limiter; it serves the request when
// Decision.Allowed, and otherwise answers 429 with the headers that
// Headers.Write sets (Retry-After, and the RateLimit fields the route
// asks for). The package does no HTTP itself.
//
// # Algorithm
//
// Both limiters are token buckets of size Burst refilled at Rate per
// second. Local keeps one golang.org/x/time/rate Limiter per key and
// decides with its AllowN(now, 1); Decision's Remaining, RetryAfter and
// Reset come from the Limiter's TokensAt(now) after the decision, rounded
// up to a nanosecond. Redis keeps the same bucket in the form of GCRA (the
// generic cell rate algorithm): one timestamp per key, the moment its
// bucket will be full again. A test holds Local's decisions, all fields,
// to that GCRA arithmetic. Time is a parameter of Allow, so tests step it
// instead of sleeping.
//
// # Local mode
//
// Local keeps the buckets in this process. Keys are spread by hash over up
// to 64 shards, each a map and a slab of entries under one mutex held for
// a lookup and one decision of the key's Limiter. A decision on an
// existing key allocates nothing. Admit, the yes-or-no decision (AllowN
// alone), takes about 85–90 ns on this project's machine; Allow, which
// also describes the bucket for the RateLimit headers, about 130–145 ns,
// since TokensAt locks the Limiter's own mutex a second time. The gateway
// calls Admit unless the route sends headers on admitted answers, and
// Allow for a refusal. A new key costs two allocations (the copy of the
// key and its Limiter).
//
// # Memory and the key cap
//
// A Local holds at most MaxKeys keys (DefaultMaxKeys, 100,000, when 0),
// split evenly over its shards, so eviction may begin when the total is a
// few percent below MaxKeys. Each key costs about 175 bytes at 100,000
// keys and 200 bytes at 1,000,000 (measured with keys the length of an
// IPv4 address: the entry, the key's copy, its 80-byte rate.Limiter and
// the map's share, growth slack included), and at most 240 bytes
// (TestMemoryPerKey); a key longer than 16 bytes adds its length rounded
// up to the allocator's size class. With the default cap that is at most
// 24 MB per Local, whatever the traffic: 1,000,000 distinct keys leave it
// within that, at about 21 MB (TestMemoryCapUnderKeyCycling).
//
// When a new key arrives at a full shard, the shard's least recently used
// key is forgotten (Evicted counts these). That is all an attacker who
// cycles client addresses or header values achieves: each evicted key
// comes back with a full bucket, so with more active keys than the cap a
// client can get up to Burst extra requests each time its key is evicted
// between two of its requests. Size MaxKeys above the number of clients
// that are active within one refill time (Burst/Rate).
//
// Idle keys leave without a goroutine: each decision notes when its key's
// bucket will be full again (now plus Reset), checks the two least
// recently used keys of its shard, and removes those whose bucket has been
// full for IdleTTL (DefaultIdleTTL when 0). A full bucket is what a new key
// gets, so this never changes a decision; in a shard that sees no traffic
// idle keys stay (and count in Len) until it does.
//
// # Shared mode (Redis)
//
// Redis enforces one limit across all gateway instances. Each decision is
// one EVALSHA of a Lua script (EVAL when Redis answers NOSCRIPT, after a
// restart) that reads the key's timestamp, decides, and writes it back
// atomically, with an expiry equal to the time until the bucket is full,
// so idle keys cost Redis nothing. The script uses the Redis server's
// clock, so gateway clocks need not agree; the now passed to Allow only
// drives the local fallback and the retry schedule. A decision allocates
// (the Redis client does, about 18 allocations) and takes one round trip,
// bounded by RedisSettings.Timeout (50 ms by default) when the client
// honours context deadlines: build it from ClientOptions.
//
// When Redis cannot answer, the request follows OnError: allow, deny, or
// local (the default), a Local of Rate/Instances and Burst/Instances per
// instance. With RedisSettings.Count (the live number of instances a
// registry lists) the share is Rate/count instead, and follows the count:
// when it changes, the next decision without Redis takes a new Local of
// the new share (its buckets start full); while the count is unknown,
// Instances applies. The first failure marks the limiter down and calls
// OnStateChange once; while down, one request per RetryInterval tries
// Redis again and the others decide without waiting, and the first that
// succeeds marks it up (OnStateChange again). Stats counts fallbacks,
// errors and outages for metrics. Each Redis limiter tracks its own state,
// so a gateway with many shared routes sees one transition per route.
//
// # Headers
//
// Headers writes, per draft-ietf-httpapi-ratelimit-headers-11 (May 2026),
// RateLimit-Policy: "default";q=100;w=60 and RateLimit:
// "default";r=42;t=10, and the earlier drafts' RateLimit-Limit,
// RateLimit-Remaining and RateLimit-Reset; see Headers for how a token
// bucket maps to quota and window.
//
// # Concurrency
//
// Local, Redis and Headers are safe for concurrent use. Keys are borrowed
// only for the duration of a call.
package ratelimit
