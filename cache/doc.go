// Package cache keeps the last good responses of routes so that the
// gateway can serve a copy when an upstream fails or its breaker is open.
//
// Memory is a bounded in-process cache (github.com/maypok86/otter/v2,
// W-TinyLFU eviction) that never holds more than Settings.MaxBytes, nor
// more than Settings.MaxEntries entries. Redis is a shared store that lets
// every gateway instance serve the copies another one stored. Tiered puts
// them together: memory first, Redis behind it, and memory keeps serving
// when Redis is down. Memory and Tiered are both a Store.
//
// What may be stored is decided by Policy.Storable (method, status,
// Cache-Control, Set-Cookie); AppendKey builds an unambiguous key from the
// parts of a request.
//
// On the request path: Memory.Get of a present key, Store.Wants, and a Put
// skipped because the stored copy is younger than Settings.RefreshAfter
// allocate nothing. A Put that stores copies the response.
package cache
