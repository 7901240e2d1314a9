package basic

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/fastgate/gateway/auth"
)

func hash(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func header(user, password string) []byte {
	return []byte("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
}

func newChecker(t testing.TB, s Settings) *Checker {
	t.Helper()
	c, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckAuthorization(t *testing.T) {
	now := time.Now()
	c := newChecker(t, Settings{Users: []User{{Name: "alice", Hash: hash(t, "wonder land")}, {Name: "bob", Hash: hash(t, "b:o:b")}}})
	for _, tt := range []struct {
		desc     string
		give     []byte
		wantUser string
		want     auth.Reason
	}{
		{desc: "right password", give: header("alice", "wonder land"), wantUser: "alice", want: auth.Allowed},
		{desc: "password with colons", give: header("bob", "b:o:b"), wantUser: "bob", want: auth.Allowed},
		{desc: "scheme in upper case", give: []byte("BASIC " + base64.StdEncoding.EncodeToString([]byte("alice:wonder land"))), wantUser: "alice", want: auth.Allowed},
		{desc: "wrong password", give: header("alice", "wonder"), want: auth.Invalid},
		{desc: "unknown user", give: header("carol", "wonder land"), want: auth.Invalid},
		{desc: "empty user", give: header("", "wonder land"), want: auth.Invalid},
		{desc: "no colon", give: []byte("Basic " + base64.StdEncoding.EncodeToString([]byte("alice"))), want: auth.Invalid},
		{desc: "bad base64", give: []byte("Basic %%%"), want: auth.Invalid},
		{desc: "too long", give: header("alice", strings.Repeat("x", 4096)), want: auth.Invalid},
		{desc: "no header", give: nil, want: auth.Missing},
		{desc: "bearer", give: []byte("Bearer abc"), want: auth.Missing},
		{desc: "scheme only", give: []byte("Basic "), want: auth.Missing},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			u, reason := c.CheckAuthorization(tt.give, now)
			if u != tt.wantUser || reason != tt.want {
				t.Fatalf("CheckAuthorization = %q, %v; want %q, %v", u, reason, tt.wantUser, tt.want)
			}
		})
	}
}

func TestCacheNeverAdmitsAnotherPassword(t *testing.T) {
	now := time.Now()
	c := newChecker(t, Settings{Users: []User{{Name: "alice", Hash: hash(t, "right")}}, CacheTTL: time.Minute})
	if _, ok := c.Check([]byte("alice"), []byte("right"), now); !ok {
		t.Fatal("right password refused")
	}
	if _, ok := c.Check([]byte("alice"), []byte("wrong"), now); ok {
		t.Fatal("wrong password admitted after the right one was cached")
	}
	if _, ok := c.Check([]byte("alice"), []byte("right"), now.Add(2*time.Minute)); !ok {
		t.Fatal("right password refused after the cache entry expired")
	}
}

func TestNewRefusesBadUsers(t *testing.T) {
	for _, tt := range []struct {
		desc string
		give []User
	}{
		{desc: "plain password", give: []User{{Name: "a", Hash: "secret"}}},
		{desc: "MD5", give: []User{{Name: "a", Hash: "$apr1$abc$def"}}},
		{desc: "broken bcrypt", give: []User{{Name: "a", Hash: "$2y$05$short"}}},
		{desc: "colon in the name", give: []User{{Name: "a:b", Hash: hash(t, "x")}}},
		{desc: "twice", give: []User{{Name: "a", Hash: hash(t, "x")}, {Name: "a", Hash: hash(t, "y")}}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if _, err := New(Settings{Users: tt.give}); err == nil {
				t.Fatal("New accepted the users")
			}
		})
	}
}

func TestLoadHtpasswd(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "htpasswd")
	// Apache's htpasswd -B writes the $2y$ prefix.
	apache := "$2y$" + strings.TrimPrefix(hash(t, "secret"), "$2a$")
	content := "# users\nalice:" + apache + "\n\nbob:" + hash(t, "pw") + "\n"
	if err := os.WriteFile(good, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	users, err := LoadHtpasswd(good)
	if err != nil {
		t.Fatal(err)
	}
	c := newChecker(t, Settings{Users: users})
	if u, ok := c.Check([]byte("alice"), []byte("secret"), time.Now()); !ok || u != "alice" {
		t.Fatal("alice's htpasswd -B entry does not check")
	}

	bad := filepath.Join(dir, "bad")
	content = "alice:" + hash(t, "pw") + "\nmd5:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/\nsha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nnocolon\n"
	if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadHtpasswd(bad)
	if err == nil {
		t.Fatal("LoadHtpasswd accepted MD5 and SHA entries")
	}
	for _, want := range []string{bad, "line 2: md5:", "line 3: sha:", "line 4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "line 1") {
		t.Errorf("error %q names the good line 1", err)
	}
	if _, err := LoadHtpasswd(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("LoadHtpasswd of a missing file succeeded")
	}
}
