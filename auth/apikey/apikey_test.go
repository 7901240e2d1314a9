package apikey

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHashIsTheHexSHA256(t *testing.T) {
	// echo -n secret | sha256sum
	if got := Hash("secret"); got != "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b" {
		t.Fatalf("Hash = %s", got)
	}
}

func TestLookup(t *testing.T) {
	s, err := New([]Key{
		{Consumer: "billing", SHA256: Hash("key-billing")},
		{Consumer: "search", SHA256: strings.ToUpper(Hash("key-search"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		desc, give, want string
		ok               bool
	}{
		{desc: "first key", give: "key-billing", want: "billing", ok: true},
		{desc: "upper-case hash in the config", give: "key-search", want: "search", ok: true},
		{desc: "unknown", give: "key-other"},
		{desc: "prefix of a key", give: "key-bill"},
		{desc: "the hash itself", give: Hash("key-billing")},
		{desc: "empty", give: ""},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			got, ok := s.Lookup([]byte(tt.give))
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Lookup(%q) = %q, %v; want %q, %v", tt.give, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNewRefusesBadKeys(t *testing.T) {
	for _, tt := range []struct {
		desc string
		give []Key
	}{
		{desc: "plain key instead of a hash", give: []Key{{Consumer: "a", SHA256: "my-secret-key"}}},
		{desc: "not hex", give: []Key{{Consumer: "a", SHA256: strings.Repeat("z", 64)}}},
		{desc: "no consumer", give: []Key{{SHA256: Hash("k")}}},
		{desc: "duplicate", give: []Key{{Consumer: "a", SHA256: Hash("k")}, {Consumer: "b", SHA256: Hash("k")}}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if _, err := New(tt.give); err == nil {
				t.Fatal("New accepted the keys")
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "keys")
	content := "# consumers\n\nbilling:" + Hash("k1") + "\n  search : " + Hash("k2") + "  \n"
	if err := os.WriteFile(good, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := LoadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(keys)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := s.Lookup([]byte("k2")); !ok || c != "search" {
		t.Fatalf("Lookup(k2) = %q, %v", c, ok)
	}

	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("billing:"+Hash("k1")+"\nnocolon\nx:123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFile(bad)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), bad) {
		t.Fatalf("LoadFile(bad) = %v, want errors naming the file, line 2 and line 3", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("LoadFile of a missing file succeeded")
	}
}
