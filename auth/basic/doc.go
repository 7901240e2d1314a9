// Package basic checks HTTP basic auth against users with bcrypt hashes
// (an htpasswd file works, bcrypt entries only).
//
// bcrypt is slow on purpose (tens of milliseconds), far too slow to run on
// every request of a keep-alive client, so a Checker keeps the credentials
// it verified in a small bounded cache for a TTL. The cache is keyed by a
// SHA-256 of a random per-checker salt and "user:password", so it holds
// neither passwords nor their plain hashes; a reload builds a new Checker
// and so forgets every entry of changed or removed users.
package basic
