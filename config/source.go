package config

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
)

// source is where a configuration's files are read from: the operating
// system's file system (Load, Parse) or an fs.FS (LoadFS). Names are the
// source's own: OS paths, or slash-separated paths inside the fs.FS.
type source interface {
	// join places an include pattern in the directory of the main file.
	// name is the plain result; glob is the same with the glob characters
	// of the main file's directory escaped, for matching.
	join(main, pattern string) (name, glob string, err error)
	// hasMeta reports whether pattern holds glob characters.
	hasMeta(pattern string) bool
	glob(pattern string) ([]string, error)
	stat(name string) (fs.FileInfo, error)
	readFile(name string) ([]byte, error)
	// abs is the name in a form that is the same for one file however it
	// was reached (absolute, clean).
	abs(name string) string
	// base is the last element of name.
	base(name string) string
}

// osSource reads the operating system's file system.
type osSource struct{}

var _ source = osSource{}

func (osSource) join(main, pattern string) (name, glob string, err error) {
	if filepath.IsAbs(pattern) {
		name = filepath.Clean(pattern)
		return name, name, nil
	}
	dir := filepath.Dir(main)
	name = filepath.Join(dir, pattern)
	if runtime.GOOS == "windows" { // '\\' is the separator there: nothing can be escaped
		return name, name, nil
	}
	return name, filepath.Join(escapeMeta(dir), pattern), nil
}

func (osSource) hasMeta(pattern string) bool {
	if runtime.GOOS == "windows" {
		return strings.ContainsAny(pattern, `*?[`)
	}
	return strings.ContainsAny(pattern, `*?[\`)
}

func (osSource) glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }
func (osSource) stat(name string) (fs.FileInfo, error) { return os.Stat(name) }
func (osSource) readFile(name string) ([]byte, error)  { return os.ReadFile(name) }
func (osSource) base(name string) string               { return filepath.Base(name) }
func (osSource) abs(name string) string {
	if a, err := filepath.Abs(name); err == nil {
		return a
	}
	return filepath.Clean(name)
}

// fsSource reads an fs.FS. Include patterns must stay inside it.
type fsSource struct{ fsys fs.FS }

var _ source = fsSource{}

var (
	errFSAbsolute = errors.New(`must be relative: the configuration is read from a file system whose paths do not start with "/"`)
	errFSOutside  = errors.New(`must stay inside the file system the configuration is read from ("..", past its root)`)
)

func (s fsSource) join(main, pattern string) (name, glob string, err error) {
	if path.IsAbs(pattern) {
		return "", "", errFSAbsolute
	}
	dir := path.Dir(main)
	name = path.Join(dir, pattern)
	if !fs.ValidPath(name) {
		return "", "", errFSOutside
	}
	return name, path.Join(escapeMeta(dir), pattern), nil
}

func (fsSource) hasMeta(pattern string) bool             { return strings.ContainsAny(pattern, `*?[\`) }
func (s fsSource) glob(pattern string) ([]string, error) { return fs.Glob(s.fsys, pattern) }
func (s fsSource) stat(name string) (fs.FileInfo, error) { return fs.Stat(s.fsys, name) }
func (s fsSource) readFile(name string) ([]byte, error)  { return fs.ReadFile(s.fsys, name) }
func (fsSource) base(name string) string                 { return path.Base(name) }
func (fsSource) abs(name string) string                  { return path.Clean(name) }

// escapeMeta makes s match only itself as a glob pattern.
func escapeMeta(s string) string {
	if !strings.ContainsAny(s, `*?[\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
