package config

import (
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
	// The plain data as JSON: maps come out in key order, pointers as
	// what they point to, durations and sizes as numbers. The include
	// patterns are left out; the routes they brought are in.
	effective := *c
	effective.Include = nil
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(&effective); err != nil { // plain data: cannot happen
		panic("config: hash: " + err.Error())
	}
	h.Write([]byte(c.tlsFilesDigest())) // certificate files renewed in place
	return hex.EncodeToString(h.Sum(nil)[:8])
}
