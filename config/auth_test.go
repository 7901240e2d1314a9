package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A key file's content is part of the configuration's hash, so that the
// reloader, which skips a reload whose hash is unchanged, applies a changed
// key file; and AuthFiles names it for the reloader to watch.
func TestAuthFilesInHash(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "gateway.yaml")
	keys := filepath.Join(dir, "keys.txt")
	users := filepath.Join(dir, "users.htpasswd")
	write := func(path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(main, `
routes:
  - name: a
    match: { path: /a }
    respond: {}
    access: { api_key: { file: keys.txt } }
  - name: b
    match: { path: /b }
    respond: {}
    access: { basic: { htpasswd_file: users.htpasswd } }
`)
	write(keys, "alice:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n")
	const bob = "bob:$2y$05$Bx8O3DSq5rMgzHVbl.kUd.j.Fzq0u0fEQMvI0QyFvXpLY9Mz/2dWe\n"
	write(users, bob)
	load := func() *Config {
		t.Helper()
		c, err := Load(main)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := load()
	if got := first.Routes[0].Access.APIKey.AllKeys(); len(got) != 1 || got[0].Consumer != "alice" {
		t.Fatalf("keys from the file: %+v", got)
	}
	if got := first.Routes[1].Access.Basic.AllUsers(); len(got) != 1 || got[0].Name != "bob" {
		t.Fatalf("users from the file: %+v", got)
	}
	if got, want := first.AuthFiles(), []string{keys, users}; !slices.Equal(got, want) {
		t.Errorf("AuthFiles() = %q, want %q", got, want)
	}
	if again := load(); again.Hash() != first.Hash() {
		t.Fatal("the hash changed without a change")
	}
	write(keys, "carol:3bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n")
	second := load()
	if second.Hash() == first.Hash() {
		t.Error("a changed key file left the hash unchanged")
	}
	write(users, bob+"# a comment\n")
	if third := load(); third.Hash() == second.Hash() {
		t.Error("a changed htpasswd file left the hash unchanged")
	}
}
