// Package apikey checks API keys. The configuration holds only the
// SHA-256 hash (hex) of each key, with the consumer it names; a presented
// key is hashed and its digest looked up by its first eight bytes, then
// compared whole in constant time. The comparison's timing depends only on
// the digest, which a caller cannot steer toward a stored one, and never
// on the stored keys themselves.
package apikey
