package config

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"reflect"

	"go.yaml.in/yaml/v3"
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
	e := encoder{reveal: true}
	h := sha256.New()
	hashNode(h, e.node(reflect.ValueOf(c).Elem(), ""))
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// hashNode writes an unambiguous encoding of the tree n (its kinds, tags,
// values and shape) to h.
func hashNode(h hash.Hash, n *yaml.Node) {
	var buf [binary.MaxVarintLen64]byte
	writeString := func(s string) {
		h.Write(binary.AppendUvarint(buf[:0], uint64(len(s))))
		h.Write([]byte(s))
	}
	if n == nil {
		h.Write([]byte{0})
		return
	}
	h.Write([]byte{byte(n.Kind)})
	writeString(n.Tag)
	writeString(n.Value)
	h.Write(binary.AppendUvarint(buf[:0], uint64(len(n.Content))))
	for _, child := range n.Content {
		hashNode(h, child)
	}
}
