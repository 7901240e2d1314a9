package discovery

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

const (
	stateVersion = 1
	// stateRetention is how long the state file keeps the list of a
	// service nobody subscribes to any more, counted from its last sync.
	stateRetention            = 7 * 24 * time.Hour
	defaultStateWriteInterval = time.Second
)

// stateDoc is the state file's JSON layout:
//
//	{"version": 1, "written": "2026-11-26T13:42:39Z", "services": [
//	  {"source": "consul", "service": "users", "synced": "2026-11-26T13:42:38Z",
//	   "instances": [{"addr": "10.0.0.5:8080", "weight": 1, "meta": {"zone": "a"}}]}]}
type stateDoc struct {
	Version  int            `json:"version"`
	Written  time.Time      `json:"written"`
	Services []stateService `json:"services"`
}

type stateService struct {
	Source    string          `json:"source"`
	Service   string          `json:"service"`
	Synced    time.Time       `json:"synced"`
	Instances []stateInstance `json:"instances"`
}

type stateInstance struct {
	Addr   string            `json:"addr"`
	Weight int               `json:"weight"`
	Meta   map[string]string `json:"meta,omitempty"`
}

// stateFile reads and writes the state file.
type stateFile struct {
	path     string
	interval time.Duration
	log      *slog.Logger
	dirty    chan struct{} // capacity 1: a write is due
	writes   atomic.Int64  // files written, for tests
}

func newStateFile(path string, interval time.Duration, log *slog.Logger) *stateFile {
	if interval <= 0 {
		interval = defaultStateWriteInterval
	}
	return &stateFile{path: path, interval: interval, log: log, dirty: make(chan struct{}, 1)}
}

// load reads the file. A missing file gives no records and no error.
func (f *stateFile) load() (map[key]*record, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc stateDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("discovery: state file %s: %w", f.path, err)
	}
	if doc.Version != stateVersion {
		return nil, fmt.Errorf("discovery: state file %s: version %d, want %d", f.path, doc.Version, stateVersion)
	}
	out := make(map[key]*record, len(doc.Services))
	for _, s := range doc.Services {
		if s.Source == "" || s.Service == "" {
			continue
		}
		eps := make([]Endpoint, 0, len(s.Instances))
		for _, in := range s.Instances {
			if in.Addr != "" {
				eps = append(eps, Endpoint(in))
			}
		}
		out[key{s.Source, s.Service}] = &record{eps: SortEndpoints(eps), synced: s.Synced, restored: true}
	}
	return out, nil
}

// markDirty asks for a write, without blocking.
func (f *stateFile) markDirty() {
	select {
	case f.dirty <- struct{}{}:
	default:
	}
}

// writeLoop writes the file after each markDirty, at most once per
// interval, until ctx ends.
func (f *stateFile) writeLoop(ctx context.Context, snapshot func() map[key]record) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.dirty:
		}
		if err := f.write(snapshot()); err != nil {
			f.log.Warn("discovery: state file not written", "file", f.path, "error", err)
		}
		if !Sleep(ctx, f.interval) {
			return
		}
	}
}

// flush writes the file if a write is due.
func (f *stateFile) flush(snapshot func() map[key]record) error {
	select {
	case <-f.dirty:
		return f.write(snapshot())
	default:
		return nil
	}
}

// write replaces the file with recs: written to a temporary file in the
// same directory, synced, then renamed over the old one, so a reader
// (or a crash) sees either the old file or the new one, whole.
func (f *stateFile) write(recs map[key]record) error {
	doc := stateDoc{Version: stateVersion, Written: time.Now().UTC(), Services: make([]stateService, 0, len(recs))}
	for k, rec := range recs {
		s := stateService{Source: k.source, Service: k.service, Synced: rec.synced.UTC(),
			Instances: make([]stateInstance, 0, len(rec.eps))}
		for _, ep := range rec.eps {
			s.Instances = append(s.Instances, stateInstance(ep))
		}
		doc.Services = append(doc.Services, s)
	}
	slices.SortFunc(doc.Services, func(a, b stateService) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.Service, b.Service))
	})
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	dir, base := filepath.Split(f.path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.path)
	}
	if err != nil {
		return fmt.Errorf("discovery: state file %s: %w", f.path, err)
	}
	f.writes.Add(1)
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable where the system allows
		_ = d.Close()
	}
	return nil
}
