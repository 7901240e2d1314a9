package config

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The files access settings name: API key files, htpasswd files and PEM
// keys. They are read when the configuration loads (and so at every
// reload), and their content is part of the configuration's hash, so that
// a reloader that skips an unchanged hash still applies a changed file.

// AllKeys returns keys and the keys of file. Read-only.
func (a *APIKeyAccess) AllKeys() []APIKey {
	return append(slices.Clip(a.Keys), a.fileKeys...)
}

// MarshalJSON includes a digest of File's content, so that the hash of a
// configuration changes with the file.
func (a APIKeyAccess) MarshalJSON() ([]byte, error) {
	type plain APIKeyAccess
	return json.Marshal(struct {
		plain
		FileSHA256 string `json:"file_sha256,omitempty"`
	}{plain(a), fileDigest(a.File, a.fileData)})
}

// AllUsers returns users and the users of htpasswd_file. Read-only.
func (b *BasicAccess) AllUsers() []BasicUser {
	return append(slices.Clip(b.Users), b.fileUsers...)
}

// MarshalJSON includes a digest of HtpasswdFile's content, so that the
// hash of a configuration changes with the file.
func (b BasicAccess) MarshalJSON() ([]byte, error) {
	type plain BasicAccess
	return json.Marshal(struct {
		plain
		FileSHA256 string `json:"file_sha256,omitempty"`
	}{plain(b), fileDigest(b.HtpasswdFile, b.fileData)})
}

// AuthFiles lists the files that access settings name (API key files,
// htpasswd files, PEM key files), absolute, for a reloader to watch.
func (c *Config) AuthFiles() []string {
	var out []string
	add := func(name string) {
		if name == "" {
			return
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(c.file), name)
		}
		if abs, err := filepath.Abs(name); err == nil && !slices.Contains(out, abs) {
			out = append(out, abs)
		}
	}
	for _, name := range sortedKeys(providerNames(c.Auth.JWTProviders)) {
		for _, k := range c.Auth.JWTProviders[name].PublicKeys {
			add(k.File)
		}
	}
	for i := range c.Routes {
		if a := c.Routes[i].Access; a != nil {
			if a.APIKey != nil {
				add(a.APIKey.File)
			}
			if a.Basic != nil {
				add(a.Basic.HtpasswdFile)
			}
		}
	}
	return out
}

func (v *validator) apiKeys(k *APIKeyAccess, p string) {
	v.tokenFrom(k.From, p+".from", false)
	if len(k.Keys) == 0 && k.File == "" {
		v.errorf(p, "needs keys or file")
	}
	seen := make(map[string]string)
	check := func(key APIKey, at string) string {
		switch {
		case key.Consumer == "":
			return "consumer is required"
		case !validConsumer(key.Consumer):
			return "consumer may hold only letters, digits, '_', '.', '@' and '-'"
		case !isSHA256Hex(key.SHA256):
			return "sha256 must be 64 hex digits (gateway hash-key prints it)"
		}
		h := strings.ToLower(key.SHA256)
		if first, dup := seen[h]; dup {
			return "the same key hash as " + first
		}
		seen[h] = at
		return ""
	}
	for i, key := range k.Keys {
		kp := p + ".keys[" + strconv.Itoa(i) + "]"
		if msg := check(key, kp); msg != "" {
			v.errorf(kp, "%s", msg)
		}
	}
	if k.File == "" {
		return
	}
	fp := p + ".file"
	data := v.readAuthFile(k.File, fp)
	if data == nil {
		return
	}
	k.fileData = data
	eachLine(data, func(n int, line string) {
		consumer, hash, ok := strings.Cut(line, ":")
		key := APIKey{Consumer: strings.TrimSpace(consumer), SHA256: strings.TrimSpace(hash)}
		msg := check(key, k.File+" line "+strconv.Itoa(n))
		if !ok {
			msg = "want CONSUMER:SHA256HEX"
		}
		if msg != "" {
			v.errorf(fp, "%s line %d: %s", k.File, n, msg)
			return
		}
		k.fileKeys = append(k.fileKeys, key)
	})
}

func (v *validator) basic(b *BasicAccess, p string) {
	if len(b.Users) == 0 && b.HtpasswdFile == "" {
		v.errorf(p, "needs users or htpasswd_file")
	}
	if strings.ContainsAny(b.Realm, "\"\\\r\n") {
		v.errorf(p+".realm", `must not contain '"', '\' or line breaks`)
	}
	seen := make(map[string]bool)
	check := func(u BasicUser) string {
		switch {
		case u.Name == "":
			return "name is required"
		case strings.ContainsAny(u.Name, ":\r\n"):
			return "name must not contain ':' or line breaks"
		case !bcryptHash(u.Hash):
			return "hash must be a bcrypt hash ($2a$, $2b$ or $2y$; htpasswd -nB prints one)"
		case seen[u.Name]:
			return "user " + strconv.Quote(u.Name) + " is listed twice"
		}
		seen[u.Name] = true
		return ""
	}
	for i, u := range b.Users {
		if msg := check(u); msg != "" {
			v.errorf(p+".users["+strconv.Itoa(i)+"]", "%s", msg)
		}
	}
	if b.HtpasswdFile == "" {
		return
	}
	fp := p + ".htpasswd_file"
	data := v.readAuthFile(b.HtpasswdFile, fp)
	if data == nil {
		return
	}
	b.fileData = data
	eachLine(data, func(n int, line string) {
		name, hash, ok := strings.Cut(line, ":")
		u := BasicUser{Name: name, Hash: strings.TrimSpace(hash)}
		msg := check(u)
		if !ok {
			msg = "want NAME:HASH"
		}
		if msg != "" {
			v.errorf(fp, "%s line %d: %s", b.HtpasswdFile, n, msg)
			return
		}
		b.fileUsers = append(b.fileUsers, u)
	})
}

// readAuthFile reads a file an access setting names, relative to the main
// file's directory; nil (and a reported problem) when it cannot.
func (v *validator) readAuthFile(name, p string) []byte {
	path := v.resolve(name)
	info, err := os.Stat(path)
	switch {
	case err != nil:
		v.invalid(p, name, "cannot be read: "+errText(err))
		return nil
	case !info.Mode().IsRegular():
		v.invalid(p, name, "is not a regular file")
		return nil
	case info.Size() > maxAuthFile:
		v.invalid(p, name, "is larger than 16MiB")
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		v.invalid(p, name, "cannot be read: "+errText(err))
		return nil
	}
	if data == nil {
		data = []byte{}
	}
	return data
}

// eachLine calls f with each line of data that is neither blank nor a #
// comment, numbered from 1.
func eachLine(data []byte, f func(n int, line string)) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f(n, line)
	}
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// bcryptHash reports whether s has the form of a bcrypt hash:
// $2a$, $2b$ or $2y$, a two-digit cost, and 53 characters of salt and
// hash.
func bcryptHash(s string) bool {
	if len(s) != 60 || s[0] != '$' || s[1] != '2' || s[3] != '$' || s[6] != '$' {
		return false
	}
	if s[2] != 'a' && s[2] != 'b' && s[2] != 'y' {
		return false
	}
	cost, err := strconv.Atoi(s[4:6])
	if err != nil || cost < 4 || cost > 31 {
		return false
	}
	for i := 7; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '/' {
			return false
		}
	}
	return true
}

func validConsumer(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune("_.@-", rune(c)) {
			return false
		}
	}
	return s != ""
}

// fileDigest is the hex SHA-256 of a file's content, "" when no file is
// named.
func fileDigest(name string, data []byte) string {
	if name == "" {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
