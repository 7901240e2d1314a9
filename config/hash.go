package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Hash identifies the effective configuration in 16 hex digits (the first
// 64 bits of a SHA-256). It covers every setting after environment
// substitution and defaults, the values of secrets included (a rotated
// secret changes it), and the routes in their merged order (reordering
// routes changes it). It leaves out how the configuration was written:
// formatting, comments, anchors, the include patterns and which file a
// route is in, so two configurations with the same Hash serve the same
// way. It is the same across runs of one build; a build that adds a setting
// may change it. Whether the files to watch changed is for Files and
// Includes to tell.
//
// A secret that can take only a few values could be guessed from the Hash
// by someone who knows the rest of the configuration: show it where the
// configuration's structure may be shown, not the secrets' values.
func (c *Config) Hash() string {
	hash, _ := c.Digests()
	return hash
}

// A RouteDigest identifies a route's settings: a SHA-256 of its plain
// data as JSON. Routes with the same settings have the same digest.
type RouteDigest = [sha256.Size]byte

// Digests returns the Hash and the digest of each route, in the order of
// Routes, which the Hash is made of: a caller that needs both works the
// routes' out once. The routes of the included files that a Loader kept
// from an earlier load are not encoded again.
func (c *Config) Digests() (hash string, routes []RouteDigest) {
	// The plain data as JSON: maps come out in key order, pointers as
	// what they point to, durations and sizes as numbers. The include
	// patterns are left out; the routes they brought are in, one digest
	// each.
	routes = c.routeDigests()
	effective := *c
	effective.Include = nil
	effective.Routes = nil
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(&effective); err != nil { // plain data: cannot happen
		panic("config: hash: " + err.Error())
	}
	for _, d := range routes {
		h.Write(d[:])
	}
	h.Write([]byte(c.tlsFilesDigest())) // certificate files renewed in place
	return hex.EncodeToString(h.Sum(nil)[:8]), routes
}

// routeDigests returns the digest of each route, in order.
func (c *Config) routeDigests() []RouteDigest {
	main := len(c.Routes)
	if len(c.parts) > 0 {
		main = c.parts[0].start
		last := c.parts[len(c.parts)-1]
		if last.start+len(last.file.routes) != len(c.Routes) {
			return digestsOf(c.Routes) // Routes changed since the load
		}
	}
	out := digestsOf(c.Routes[:main])
	for _, p := range c.parts {
		out = append(out, p.file.routeDigests()...)
	}
	return out
}

// digestsOf returns the digest of each route: a SHA-256 of its plain data
// as JSON. A long list is worked through in parts at once (inParts).
func digestsOf(routes []Route) []RouteDigest {
	out := make([]RouteDigest, len(routes))
	inParts(len(routes), func(_, lo, hi int) {
		digestInto(out[lo:hi], routes[lo:hi])
	})
	return out
}

// digestInto sets out[i] to the digest of routes[i].
func digestInto(out []RouteDigest, routes []Route) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range routes {
		buf.Reset()
		if err := enc.Encode(&routes[i]); err != nil { // plain data: cannot happen
			panic("config: hash: " + err.Error())
		}
		out[i] = sha256.Sum256(buf.Bytes())
	}
}
