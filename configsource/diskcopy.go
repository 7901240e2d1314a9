package configsource

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Copy is the last good version as an instance keeps it on disk.
type Copy struct {
	// Source and Where say which registry and where in it (an etcd
	// prefix) the version came from: a copy from elsewhere is not used.
	Source string `json:"source"`
	Where  string `json:"where"`
	// Version is the number of the version.
	Version int64 `json:"version"`
	// Files holds the version's files by name.
	Files map[string]string `json:"files"`
	// Saved is when the copy was written.
	Saved time.Time `json:"saved"`
}

// CopyOf is the Copy of v, read from source at where.
func CopyOf(source, where string, v Version) Copy {
	c := Copy{Source: source, Where: where, Version: v.Number, Files: make(map[string]string, len(v.Files)), Saved: time.Now().UTC()}
	for n, b := range v.Files {
		c.Files[n] = string(b)
	}
	return c
}

func (c Copy) version() Version {
	v := Version{Number: c.Version, Files: make(map[string][]byte, len(c.Files))}
	for n, s := range c.Files {
		v.Files[n] = []byte(s)
	}
	return v
}

// WriteCopy writes c to path, replacing what was there in one rename, so
// that a crash leaves the old copy or the new one, never half of one.
func WriteCopy(path string, c Copy) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("configsource: copy on disk: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("configsource: copy on disk: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("configsource: copy on disk: %w", err)
	}
	_, werr := tmp.Write(b)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("configsource: copy on disk: %w", werr)
	}
	return nil
}

// ErrNoCopy is returned by ReadCopy when there is no copy at path.
var ErrNoCopy = errors.New("configsource: no copy on disk")

// ReadCopy reads the copy at path, written by WriteCopy, and checks it
// came from source at where.
func ReadCopy(path, source, where string) (Version, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Version{}, fmt.Errorf("%w at %s", ErrNoCopy, path)
	}
	if err != nil {
		return Version{}, fmt.Errorf("configsource: copy on disk: %w", err)
	}
	var c Copy
	if err := json.Unmarshal(b, &c); err != nil {
		return Version{}, fmt.Errorf("configsource: copy on disk %s is damaged: %w", path, err)
	}
	if c.Source != source || c.Where != where {
		return Version{}, fmt.Errorf("configsource: copy on disk %s is of %s %s, not of %s %s", path, c.Source, c.Where, source, where)
	}
	return c.version(), nil
}
