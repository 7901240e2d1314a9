package configsource

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"testing/fstest"

	"github.com/fastgate/gateway/config"
)

// MainFile is the name of a version's main file: the one loaded, which
// includes the others.
const MainFile = "gateway.yaml"

// Version is one published configuration: its number and its files by
// name (slash-separated, relative to the main file's directory, MainFile
// among them). A Version is not changed once made.
type Version struct {
	// Number identifies the version: versions are numbered from 1 up.
	Number int64
	// Files holds each file's content by name.
	Files map[string][]byte
}

// Size is the bytes of all the version's files together.
func (v Version) Size() int64 {
	var n int64
	for _, b := range v.Files {
		n += int64(len(b))
	}
	return n
}

// Names lists the version's file names in order.
func (v Version) Names() []string {
	names := make([]string, 0, len(v.Files))
	for n := range v.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Digest is the SHA-256 of one file's content, in hex, as manifests list
// it.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// CheckName says what is wrong with a file name of a version, or "".
func CheckName(name string) string {
	switch {
	case name == "":
		return "an empty file name"
	case !fs.ValidPath(name) || name == ".":
		return "a file name must be a relative, slash-separated path without . or .. elements"
	case strings.ContainsAny(name, "\\\x00\n\r"):
		return "a file name must not hold backslashes or control characters"
	}
	return ""
}

// ErrNotPublishable is the base of the errors Load returns for a version
// that holds what only an instance's own file may: its config_source.
var ErrNotPublishable = errors.New("configsource: config_source is each instance's own setting, not a published one")

// Load parses v as config.Load parses files, with the same defaults,
// validation and checks. keyOf names a file as errors show it: the
// registry key it was read from. A version that holds a config_source is
// refused (ErrNotPublishable). Problems are config.Errors, as Load's.
func (v Version) Load(keyOf func(name string) string, checks ...config.Check) (*config.Config, error) {
	if _, ok := v.Files[MainFile]; !ok {
		return nil, fmt.Errorf("configsource: version %d has no %s (its main file)", v.Number, keyOf(MainFile))
	}
	// The standard library's in-memory fs.FS: it makes up the directories
	// that include globs walk.
	fsys := fstest.MapFS{}
	for name, b := range v.Files {
		if msg := CheckName(name); msg != "" {
			return nil, fmt.Errorf("configsource: version %d: %q: %s", v.Number, name, msg)
		}
		fsys[name] = &fstest.MapFile{Data: b, Mode: 0o444}
	}
	cfg, err := config.LoadFS(fsys, MainFile, checks...)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, fe := range errs {
				if fe.File != "" {
					fe.File = keyOf(path.Clean(fe.File))
				}
			}
			return nil, errs
		}
		return nil, err
	}
	if cfg.ConfigSource != nil {
		_, line, col, _ := cfg.PositionOf("config_source")
		return nil, fmt.Errorf("%s:%d:%d: config_source: %w", keyOf(MainFile), line, col, ErrNotPublishable)
	}
	return cfg, nil
}
