package certs_test

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/certs/certstest"
)

func writeKeys(t testing.TB, dir, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func randomKey(t testing.TB) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

func TestLoadTicketKeys(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := randomKey(t), randomKey(t)
	tests := []struct {
		desc     string
		lines    []string
		wantKeys int
		wantText string
	}{
		{desc: "two keys, comments and blank lines", lines: []string{"# fleet keys", k1, "", "  " + strings.ToUpper(k2) + "  "}, wantKeys: 2},
		{desc: "short key", lines: []string{k1, k2[:62]}, wantText: "line 2: a key is 64 hexadecimal digits"},
		{desc: "not hex", lines: []string{strings.Repeat("zz", 32)}, wantText: "line 1: not hexadecimal"},
		{desc: "no key", lines: []string{"# empty"}, wantText: certs.ErrNoTicketKeys.Error()},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			path := writeKeys(t, dir, string(rune('a'+i)), tt.lines...)
			keys, err := certs.LoadTicketKeys(path)
			if tt.wantText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %v, want one naming %s and containing %q", err, path, tt.wantText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != tt.wantKeys || hex.EncodeToString(keys[0][:]) != k1 || hex.EncodeToString(keys[1][:]) != k2 {
				t.Errorf("keys %x, want %s and %s", keys, k1, k2)
			}
		})
	}
	if _, err := certs.LoadTicketKeys(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestTicketKeysShared: two listeners given the same ticket key file
// resume each other's sessions, with TLS 1.2 and 1.3; after a rotation
// that keeps the old key second, old tickets still resume; once the old
// key is gone they do not.
func TestTicketKeysShared(t *testing.T) {
	ca := certstest.NewCA(t, "test CA")
	p := pair(t, ca, "api.example.com")
	dir := t.TempDir()
	oldKey, newKey := randomKey(t), randomKey(t)
	keysFile := writeKeys(t, dir, "tickets", oldKey)

	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			settings := certs.ServerSettings{TicketKeysFile: keysFile}
			cfgA := serverConfig(t, certs.NewStore(newSet(t, certs.SetOptions{}, p)), settings)
			cfgB := serverConfig(t, certs.NewStore(newSet(t, certs.SetOptions{}, p)), settings)
			unshared := serverConfig(t, certs.NewStore(newSet(t, certs.SetOptions{}, p)), certs.ServerSettings{})
			a := startLineServer(t, cfgA, certs.ListenerSettings{})
			b := startLineServer(t, cfgB, certs.ListenerSettings{})
			c := startLineServer(t, unshared, certs.ListenerSettings{})

			// resumes connects to first with a fresh session cache, then
			// to second with the session the first gave.
			resumes := func(first, second string) bool {
				t.Helper()
				client := clientConfig(ca, "api.example.com")
				client.MinVersion, client.MaxVersion = version, version
				client.ClientSessionCache = tls.NewLRUClientSessionCache(4)
				c1, err := dial(t, first, client)
				if err != nil {
					t.Fatal(err)
				}
				c1.Close()
				c2, err := dial(t, second, client)
				if err != nil {
					t.Fatal(err)
				}
				defer c2.Close()
				return c2.ConnectionState().DidResume
			}
			if !resumes(a.addr, b.addr) {
				t.Error("a session from A did not resume on B")
			}
			if resumes(a.addr, c.addr) {
				t.Error("a session resumed on a listener without the shared keys")
			}

			// Rotate B: new key first, old key kept for decryption.
			rotated, err := certs.LoadTicketKeys(writeKeys(t, dir, "rotated", newKey, oldKey))
			if err != nil {
				t.Fatal(err)
			}
			cfgB.SetSessionTicketKeys(rotated)
			if !resumes(a.addr, b.addr) {
				t.Error("after rotation with the old key kept, a session from A did not resume on B")
			}
			// Drop the old key from B.
			only, err := certs.LoadTicketKeys(writeKeys(t, dir, "only-new", newKey))
			if err != nil {
				t.Fatal(err)
			}
			cfgB.SetSessionTicketKeys(only)
			if resumes(a.addr, b.addr) {
				t.Error("a ticket under a dropped key resumed")
			}
		})
	}
}
