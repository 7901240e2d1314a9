package reloader

import (
	"path/filepath"
	"testing"
)

// TestKeyFileChangeApplies: a route's API key file is watched like the
// configuration's own files; rewriting it reloads with the new keys.
func TestKeyFileChangeApplies(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	keys := filepath.Join(dir, "keys.txt")
	writeFile(t, keys, "a:"+hexHash('a')+"\n")
	writeFile(t, path, `
routes:
  - name: keyed
    match: { path: /k }
    respond: {}
    access: { api_key: { file: keys.txt } }
`)
	s := start(t, path, true)
	writeFile(t, keys, "b:"+hexHash('b')+"\n")
	c := s.target.waitCall(t, "apply after the key file changed", fromFile("apply"))
	if got := c.cfg.Routes[0].Access.APIKey.AllKeys(); len(got) != 1 || got[0].Consumer != "b" {
		t.Errorf("applied keys %+v, want b's", got)
	}
}

// hexHash is 64 hex digits of c, a well-formed key hash.
func hexHash(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
