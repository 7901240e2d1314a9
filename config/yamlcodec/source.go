package yamlcodec

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
)

// A Source is where a document's files are read from: the operating
// system's file system (OS) or an fs.FS (FS). Names are the source's own:
// OS paths, or slash-separated paths inside the fs.FS.
type Source interface {
	// Join places an include pattern in the directory of the main file.
	// name is the plain result; glob is the same with the glob characters
	// of the main file's directory escaped, for matching.
	Join(main, pattern string) (name, glob string, err error)
	// HasMeta reports whether pattern holds glob characters.
	HasMeta(pattern string) bool
	// Glob lists the names that match pattern.
	Glob(pattern string) ([]string, error)
	// Stat describes the file name.
	Stat(name string) (fs.FileInfo, error)
	// ReadFile returns the content of the file name.
	ReadFile(name string) ([]byte, error)
	// Abs is the name in a form that is the same for one file however it
	// was reached (absolute, clean).
	Abs(name string) string
	// Base is the last element of name.
	Base(name string) string
}

// OS returns the Source of the operating system's file system.
func OS() Source { return osSource{} }

// FS returns the Source of fsys. Include patterns must stay inside it.
func FS(fsys fs.FS) Source { return fsSource{fsys} }

// osSource reads the operating system's file system.
type osSource struct{}

var _ Source = osSource{}

func (osSource) Join(main, pattern string) (name, glob string, err error) {
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

func (osSource) HasMeta(pattern string) bool {
	if runtime.GOOS == "windows" {
		return strings.ContainsAny(pattern, `*?[`)
	}
	return strings.ContainsAny(pattern, `*?[\`)
}

func (osSource) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }
func (osSource) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }
func (osSource) ReadFile(name string) ([]byte, error)  { return os.ReadFile(name) }
func (osSource) Base(name string) string               { return filepath.Base(name) }
func (osSource) Abs(name string) string {
	if a, err := filepath.Abs(name); err == nil {
		return a
	}
	return filepath.Clean(name)
}

// fsSource reads an fs.FS. Include patterns must stay inside it.
type fsSource struct{ fsys fs.FS }

var _ Source = fsSource{}

var (
	errFSAbsolute = errors.New(`must be relative: the configuration is read from a file system whose paths do not start with "/"`)
	errFSOutside  = errors.New(`must stay inside the file system the configuration is read from ("..", past its root)`)
)

func (s fsSource) Join(main, pattern string) (name, glob string, err error) {
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

func (fsSource) HasMeta(pattern string) bool             { return strings.ContainsAny(pattern, `*?[\`) }
func (s fsSource) Glob(pattern string) ([]string, error) { return fs.Glob(s.fsys, pattern) }
func (s fsSource) Stat(name string) (fs.FileInfo, error) { return fs.Stat(s.fsys, name) }
func (s fsSource) ReadFile(name string) ([]byte, error)  { return fs.ReadFile(s.fsys, name) }
func (fsSource) Base(name string) string                 { return path.Base(name) }
func (fsSource) Abs(name string) string                  { return path.Clean(name) }

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
