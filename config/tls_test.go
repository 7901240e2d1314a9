package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/certs/certstest"
)

// tlsConfig writes a configuration with the given tls section into dir
// and loads it.
func loadTLS(t *testing.T, dir, tlsSection string) (*Config, error) {
	t.Helper()
	body := "listen: \"127.0.0.1:0\"\nadmin: \"off\"\n" + tlsSection +
		"routes:\n  - name: r\n    match: { path: /r }\n    respond: { status: 200 }\n"
	file := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(file)
}

func TestTLSSection(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "test CA")
	ca.WriteCA(t, dir, "ca.pem")
	ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}}).Write(t, dir, "a")
	other := ca.Issue(t, certstest.LeafOptions{Names: []string{"b.example.com"}})
	other.Write(t, dir, "b")
	// A certificate with b's key: a mismatch.
	if err := os.WriteFile(filepath.Join(dir, "mismatch.key"), other.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ca.Issue(t, certstest.LeafOptions{Names: []string{"old.example.com"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}).Write(t, dir, "expired")
	if err := os.WriteFile(filepath.Join(dir, "garbage.pem"), []byte("not pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		give string
		want string // "" for valid, else a substring of the error
	}{
		{desc: "off by default", give: ""},
		{desc: "one pair", give: "tls:\n  listen: \"127.0.0.1:0\"\n  certificates: [{cert_file: a.crt, key_file: a.key}]\n"},
		{desc: "settings without listen", give: "tls:\n  certificates: [{cert_file: a.crt, key_file: a.key}]\n",
			want: "tls.listen: is required"},
		{desc: "no certificate", give: "tls:\n  listen: \"127.0.0.1:0\"\n", want: "tls.certificates: at least one"},
		{desc: "missing file", give: "tls:\n  listen: \"127.0.0.1:0\"\n  certificates: [{cert_file: nope.crt, key_file: a.key}]\n",
			want: `gateway.yaml:5:30: tls.certificates[0].cert_file: "nope.crt": cannot be read`},
		{desc: "key of another certificate", give: "tls:\n  listen: \"127.0.0.1:0\"\n  certificates: [{cert_file: a.crt, key_file: mismatch.key}]\n",
			want: `tls.certificates[0].key_file: "mismatch.key": does not go with a.crt`},
		{desc: "expired", give: "tls:\n  listen: \"127.0.0.1:0\"\n  certificates: [{cert_file: expired.crt, key_file: expired.key}]\n",
			want: `tls.certificates[0].cert_file: "expired.crt": certificate expired`},
		{desc: "not PEM", give: "tls:\n  listen: \"127.0.0.1:0\"\n  certificates: [{cert_file: garbage.pem, key_file: a.key}]\n",
			want: "holds no PEM CERTIFICATE block"},
		{desc: "unknown default", give: "tls:\n  listen: \"127.0.0.1:0\"\n  default: b.crt\n  certificates: [{cert_file: a.crt, key_file: a.key}]\n",
			want: "tls.default"},
		{desc: "client auth", give: "tls:\n  listen: \"127.0.0.1:0\"\n  certificates: [{cert_file: a.crt, key_file: a.key}]\n  client_auth: {ca_file: ca.pem, mode: verify_if_given, header: X-Client-Cert}\n"},
		{desc: "client auth bad mode and CA", give: "tls:\n  listen: \"127.0.0.1:0\"\n  certificates: [{cert_file: a.crt, key_file: a.key}]\n  client_auth: {ca_file: garbage.pem, mode: maybe}\n",
			want: "tls.client_auth.mode"},
		{desc: "bad min version", give: "tls:\n  listen: \"127.0.0.1:0\"\n  min_version: \"1.1\"\n  certificates: [{cert_file: a.crt, key_file: a.key}]\n",
			want: `tls.min_version: "1.1"`},
		{desc: "acme redis without redis", give: "tls:\n  listen: \"127.0.0.1:0\"\n  acme: {domains: [a.example.com], storage: redis}\n",
			want: "tls.acme.storage: redis needs"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			_, err := loadTLS(t, dir, tt.give)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// A renewed certificate written over the same file changes the Hash, so
// a reload triggered by the file's change is not taken for a no-op; the
// files are listed for the reloader to watch.
func TestTLSFilesInHash(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "test CA")
	ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}}).Write(t, dir, "a")
	section := "tls:\n  listen: \"127.0.0.1:0\"\n  certificates: [{cert_file: a.crt, key_file: a.key}]\n"
	c1, err := loadTLS(t, dir, section)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := loadTLS(t, dir, section)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Hash() != c2.Hash() {
		t.Fatal("the same files gave two hashes")
	}
	ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}}).Write(t, dir, "a")
	c3, err := loadTLS(t, dir, section)
	if err != nil {
		t.Fatal(err)
	}
	if c3.Hash() == c1.Hash() {
		t.Error("a renewed certificate left the Hash unchanged")
	}
	files := c3.TLSFiles()
	want := []string{filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")}
	if strings.Join(files, ",") != strings.Join(want, ",") {
		t.Errorf("TLSFiles = %q, want %q", files, want)
	}
	red, err := c3.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(red), "PRIVATE KEY") || strings.Contains(string(red), "BEGIN") {
		t.Errorf("/-/config shows key material:\n%s", red)
	}
}

func TestUpstreamTLS(t *testing.T) {
	dir := t.TempDir()
	ca := certstest.NewCA(t, "test CA")
	ca.WriteCA(t, dir, "ca.pem")
	ca.Issue(t, certstest.LeafOptions{Names: []string{"client"}, Client: true}).Write(t, dir, "client")
	write := func(up string) error {
		body := "listen: \"127.0.0.1:0\"\nadmin: \"off\"\nroutes:\n  - name: r\n    match: { path: /r }\n    upstream:\n" + up
		file := filepath.Join(dir, "gateway.yaml")
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(file)
		return err
	}
	if err := write("      targets: [\"https://127.0.0.1:8443\"]\n      tls: {ca_file: ca.pem, cert_file: client.crt, key_file: client.key, server_name: up.internal}\n"); err != nil {
		t.Fatalf("valid upstream tls: %v", err)
	}
	for _, tt := range []struct{ desc, give, want string }{
		{"http target with tls", "      targets: [\"http://127.0.0.1:8080\"]\n      tls: {ca_file: ca.pem}\n", "tls applies to https:// targets"},
		{"mixed schemes", "      targets: [\"http://127.0.0.1:8080\", \"https://127.0.0.1:8443\"]\n", "mixes http:// and https://"},
		{"cert without key", "      targets: [\"https://127.0.0.1:8443\"]\n      tls: {cert_file: client.crt}\n", "tls.key_file: is required"},
		{"missing CA", "      targets: [\"https://127.0.0.1:8443\"]\n      tls: {ca_file: none.pem}\n", `tls.ca_file: "none.pem": cannot be read`},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if err := write(tt.give); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
