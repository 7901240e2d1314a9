// Package jwks holds the public keys a JWT provider verifies with: a Set
// (an immutable snapshot of keys, looked up by kid) and a Source that
// yields the current Set, either fixed from static PEM keys or fetched
// from a JWKS URL.
//
// A URL source fetches at Start and then refreshes in the background.
// Whatever the endpoint does — refuse connections, answer an error,
// garbage, a set without one usable key, hang, or stream without end — the
// last good set keeps serving: a fetch reads at most MaxBytes and gives up
// after Timeout. A token naming an unknown kid may trigger one extra fetch,
// at most once per MinRefetchInterval, waited for by the requests that
// asked. Staleness (the time since the last good fetch) is exposed for a
// metric.
//
// A key that a refresh drops is marked (Key.Dropped), so that whatever was
// verified with it (the JWT cache) stops being trusted at once; a key that
// a refresh keeps unchanged stays the same *Key.
package jwks
