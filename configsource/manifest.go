package configsource

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Manifest lists a version's files: written after them, it is what makes
// a version complete. An instance checks every file it reads against it,
// so a half-written or altered version is refused.
type Manifest struct {
	Version   int64          `json:"version"`
	Files     []ManifestFile `json:"files"`
	Published time.Time      `json:"published"`
	By        string         `json:"by,omitempty"`
}

// ManifestFile is one file of a Manifest.
type ManifestFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// NewManifest is the manifest of files published as version n by by.
func NewManifest(n int64, files map[string][]byte, by string) Manifest {
	v := Version{Number: n, Files: files}
	m := Manifest{Version: n, Published: time.Now().UTC(), By: by}
	for _, name := range v.Names() {
		b := files[name]
		m.Files = append(m.Files, ManifestFile{Name: name, Size: int64(len(b)), SHA256: Digest(b)})
	}
	return m
}

// ParseManifest decodes the manifest of version n read from key and
// checks it: its number, its file names, and its size against maxBytes
// (setting names that limit in messages). Problems are BadVersion errors.
func ParseManifest(key string, b []byte, n, maxBytes int64, setting string) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, Badf("%s: not a manifest: %v", key, err)
	}
	if m.Version != n {
		return Manifest{}, Badf("%s: the manifest is of version %d", key, m.Version)
	}
	var total int64
	seen := map[string]bool{}
	for _, f := range m.Files {
		if msg := CheckName(f.Name); msg != "" {
			return Manifest{}, Badf("%s: file %q: %s", key, f.Name, msg)
		}
		if seen[f.Name] {
			return Manifest{}, Badf("%s: file %q listed twice", key, f.Name)
		}
		seen[f.Name] = true
		total += max(f.Size, 0)
	}
	if total > maxBytes {
		return Manifest{}, Badf("version %d is %d bytes, over the limit of %d (%s)", n, total, maxBytes, setting)
	}
	return m, nil
}

// Check says whether b, read from key (ok false: the key is missing), is
// file f of version n as its manifest lists it.
func (f ManifestFile) Check(key string, n int64, b []byte, ok bool) error {
	switch {
	case !ok:
		return Badf("%s is missing: version %d is incomplete (half-written, or its keys were deleted)", key, n)
	case int64(len(b)) != f.Size || Digest(b) != f.SHA256:
		return Badf("%s does not match the manifest of version %d (half-written or altered)", key, n)
	}
	return nil
}

// CheckPublishable says what keeps files from being published as a
// version: no main file, more than maxFiles files, more than maxBytes
// (setting names that limit), a bad file name.
func CheckPublishable(files map[string][]byte, maxFiles int, maxBytes int64, setting string) error {
	v := Version{Files: files}
	if _, ok := files[MainFile]; !ok {
		return fmt.Errorf("a version needs its main file %s", MainFile)
	}
	if len(files) > maxFiles {
		return fmt.Errorf("%d files; a version holds at most %d", len(files), maxFiles)
	}
	if v.Size() > maxBytes {
		return fmt.Errorf("the files are %d bytes, over the limit of %d (%s)", v.Size(), maxBytes, setting)
	}
	for _, name := range v.Names() {
		if msg := CheckName(name); msg != "" {
			return fmt.Errorf("file %q: %s", name, msg)
		}
	}
	return nil
}

// NextNumber is the number of the version after from and after every
// version that keys (keys below dir, "<dir><n>/...") show written, even
// partly.
func NextNumber(dir string, keys []string, from int64) int64 {
	last := from
	for _, k := range keys {
		num, _, _ := strings.Cut(strings.TrimPrefix(k, dir), "/")
		if n, err := strconv.ParseInt(num, 10, 64); err == nil {
			last = max(last, n)
		}
	}
	return last + 1
}

// ParsePointer reads a version number from the value of key, the
// pointer that names the current version.
func ParsePointer(key string, b []byte) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: want a version number, got %q", key, clip(b))
	}
	return n, nil
}

// BadVersion is a version that cannot be used as it is in the registry:
// incomplete, altered, too large, or gone. Reading it again does not
// help, unlike a failure to reach the registry.
type BadVersion struct{ msg string }

func (e *BadVersion) Error() string { return e.msg }

// Badf returns a BadVersion.
func Badf(format string, args ...any) error {
	return &BadVersion{fmt.Sprintf(format, args...)}
}

// IsBad reports whether err is a problem of the version rather than of
// reaching the registry.
func IsBad(err error) bool {
	var b *BadVersion
	return errors.As(err, &b)
}

// clip shortens a value for a message.
func clip(b []byte) string {
	const n = 40
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// Layout names the keys of the versions under a prefix (ending in "/"),
// the same in every registry.
type Layout struct{ Prefix string }

// CurrentKey is the key of the pointer to the version served.
func (l Layout) CurrentKey() string { return l.Prefix + "current" }

// VersionDir is the prefix of version n's keys.
func (l Layout) VersionDir(n int64) string {
	return l.Prefix + "versions/" + strconv.FormatInt(n, 10) + "/"
}

// ManifestKey is the key of version n's manifest.
func (l Layout) ManifestKey(n int64) string { return l.VersionDir(n) + "manifest" }

// FileKey is the key of a version's file: errors in it name this key.
func (l Layout) FileKey(n int64, name string) string { return l.VersionDir(n) + "files/" + name }

// ReadVersion reads version n through get (ok false: the key is
// missing): its manifest, checked against maxBytes (setting names that
// limit), then each file it lists, checked against it. A problem of the
// version is a BadVersion; an error of get is returned as it is.
func (l Layout) ReadVersion(n, maxBytes int64, setting string, get func(key string) (_ []byte, ok bool, _ error)) (Version, error) {
	key := l.ManifestKey(n)
	b, ok, err := get(key)
	if err != nil {
		return Version{}, err
	}
	if !ok {
		return Version{}, Badf("%s is missing: there is no complete version %d", key, n)
	}
	m, err := ParseManifest(key, b, n, maxBytes, setting)
	if err != nil {
		return Version{}, err
	}
	v := Version{Number: n, Files: make(map[string][]byte, len(m.Files))}
	for _, f := range m.Files {
		key := l.FileKey(n, f.Name)
		b, ok, err := get(key)
		if err != nil {
			return Version{}, err
		}
		if err := f.Check(key, n, b, ok); err != nil {
			return Version{}, err
		}
		v.Files[f.Name] = b
	}
	return v, nil
}
