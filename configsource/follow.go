package configsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/metrics"
	"github.com/fastgate/gateway/reloader"
)

// Pointer is what a registry's pointer key (current) says.
type Pointer struct {
	// Version is the number it names; 0 when there is no pointer key.
	Version int64
	// Rev identifies the write of the pointer key (etcd's mod revision,
	// Consul's ModifyIndex); 0 when there is none, -1 when not known.
	Rev int64
	// Bad says the pointer holds no version number.
	Bad error
}

// Store reads the layout of a registry: the pointer and the versions.
type Store interface {
	// Current reads the pointer. An error means the registry did not
	// answer.
	Current(ctx context.Context) (Pointer, error)
	// Version reads version n checked against its manifest. A problem of
	// the version is a BadVersion; any other error means the registry
	// did not answer.
	Version(ctx context.Context, n int64) (Version, error)
	// CurrentKey is the pointer's key, FileKey the key of a version's
	// file, as messages name them.
	CurrentKey() string
	FileKey(n int64, name string) string
}

// FollowerSettings configures a Follower. R is the Target's report of one
// reload.
type FollowerSettings[R any] struct {
	// Source names the registry in metrics, logs, triggers and copies:
	// "etcd", "consul".
	Source string
	// Where is where in it the versions are (a prefix): a copy on disk
	// of another place is not used.
	Where string
	// Store reads the registry. Required.
	Store Store
	// StateFile is where the last good version is kept. "" means no copy.
	StateFile string
	// Local is the instance's own configuration (its file, with the
	// config_source). The settings that need a restart are each
	// instance's own: every version is applied with Local's values of
	// them, and a version that sets one differently is logged. Required.
	Local *config.Config
	// Target receives each version loaded. Required.
	Target reloader.Target[R]
	// Checks are passed to the loading of every version.
	Checks []config.Check
	// Logger receives the lines. Nil means slog.Default().
	Logger *slog.Logger
}

// Follower is what every registry's Source shares: it makes the version a
// pointer names serve (once), refuses what cannot serve (once, keeping
// the last good version), keeps the last good version on disk and serves
// that copy when the registry has none to give, and reports all of it in
// its Status. The registry's own loop (a watch, blocking queries) hands
// it each pointer it reads. Safe for concurrent use.
type Follower[R any] struct {
	source string
	where  string
	st     Store
	state  string
	local  *config.Config
	target reloader.Target[R]
	checks []config.Check
	log    *slog.Logger

	mu     sync.Mutex // serializes the Target's calls; guards what follows
	served int64      // the version serving (0 none)
	// servedRev is the Rev of the pointer whose version serves; 0 when
	// not known (the copy on disk serves).
	servedRev int64
	refused   int64 // the version refused while it is current (0 none)
	// refusedRev is the Rev of a pointer that was refused for holding no
	// version number (0 none).
	refusedRev int64
	gone       bool // the pointer was deleted: reported once
	copyTried  bool // the copy on disk was tried (once)
	// warned holds the version whose own settings were last reported.
	warned []int64

	stMu   sync.Mutex
	status metrics.ConfigSourceStatus

	outage atomic.Bool // the registry stopped answering; logged once
}

// NewFollower returns a Follower.
func NewFollower[R any](s FollowerSettings[R]) (*Follower[R], error) {
	if s.Target == nil || s.Local == nil || s.Store == nil {
		return nil, errors.New("configsource: Target, Local and Store are required")
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	return &Follower[R]{
		source: s.Source,
		where:  s.Where,
		st:     s.Store,
		state:  s.StateFile,
		local:  s.Local,
		target: s.Target,
		checks: s.Checks,
		log:    s.Logger,
		status: metrics.ConfigSourceStatus{Source: s.Source},
	}, nil
}

// Status says what serves and how the registry answers.
func (f *Follower[R]) Status() metrics.ConfigSourceStatus {
	f.stMu.Lock()
	defer f.stMu.Unlock()
	return f.status
}

func (f *Follower[R]) setStatus(fn func(*metrics.ConfigSourceStatus)) {
	f.stMu.Lock()
	fn(&f.status)
	f.stMu.Unlock()
}

// Reached records that the registry answered.
func (f *Follower[R]) Reached() {
	f.setStatus(func(st *metrics.ConfigSourceStatus) { st.Reachable = true })
	if f.outage.Swap(false) {
		f.log.Info("gateway: config source answers again")
	}
}

// Lost records that the registry stopped answering (err says how): logged
// once per outage. When no version serves yet, the copy on disk is
// applied.
func (f *Follower[R]) Lost(err error) {
	f.setStatus(func(st *metrics.ConfigSourceStatus) { st.Reachable = false })
	if !f.outage.Swap(true) {
		f.log.Warn("gateway: config source does not answer; what serves keeps serving", "error", err.Error())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loadCopyLocked()
}

// NamesNone reports whether the last pointer read was missing.
func (f *Follower[R]) NamesNone() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gone
}

// Follow makes the version p names serve, unless it serves already or was
// refused. It returns an error only when the registry failed to answer.
func (f *Follower[R]) Follow(ctx context.Context, p Pointer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case p.Bad != nil && p.Rev == f.refusedRev:
		return nil // reported already
	case p.Bad != nil:
		f.refuseLocked(p, p.Bad)
		return nil
	case p.Version == 0:
		if !f.gone {
			f.gone = true
			f.log.Warn("gateway: config source names no current version; what serves keeps serving",
				"key", f.st.CurrentKey(), "serving", f.served)
		}
		f.loadCopyLocked()
		return nil
	case p.Version == f.served && (f.servedRev == 0 || p.Rev <= 0 || p.Rev == f.servedRev):
		// Nothing to apply; what serves is what the registry names. (The
		// same number written again, after the keys were deleted and
		// numbering started over, is read again.)
		f.refused, f.refusedRev = 0, 0
		f.setStatus(func(st *metrics.ConfigSourceStatus) { st.FromDisk, st.Refused, st.RefusedError = false, 0, "" })
		return nil
	case p.Version == f.refused:
		return nil // reported already
	}
	f.gone = false
	v, err := f.st.Version(ctx, p.Version)
	if err != nil {
		if !IsBad(err) {
			return err
		}
		f.refuseLocked(p, err)
		return nil
	}
	req := reloader.Request{Trigger: f.source + " version " + strconv.FormatInt(v.Number, 10), FileChange: true}
	if _, err := f.applyLocked(v, req, false); err != nil {
		f.loadCopyLocked()
		return nil
	}
	f.servedRev = p.Rev
	return nil
}

// applyLocked loads v and hands it to the Target; fromDisk says where it
// was read. On success v serves, and (read from the registry) is kept on
// disk.
func (f *Follower[R]) applyLocked(v Version, req reloader.Request, fromDisk bool) (R, error) {
	cfg, err := v.Load(func(name string) string { return f.st.FileKey(v.Number, name) }, f.checks...)
	if err != nil {
		res := f.target.Refuse(err, req) // logs and counts it
		if !req.DryRun && !fromDisk {
			f.refusedLocked(v.Number, 0, err)
		}
		return res, err
	}
	loaded := cfg
	cfg, own := cfg.InEffect(f.local)
	if req.DryRun {
		return f.target.Preview(cfg, req)
	}
	own = slices.DeleteFunc(own, func(p string) bool { // only what the version wrote
		_, _, ok := loaded.Position(p)
		return !ok
	})
	if len(own) > 0 && !slices.Contains(f.warned, v.Number) {
		f.warned = append(f.warned[:0], v.Number)
		f.log.Warn("gateway: the version sets settings that are each instance's own; this instance keeps those of its file",
			"version", v.Number, "settings", strings.Join(own, ","))
	}
	res, err := f.target.Apply(cfg, req)
	if err != nil {
		if !fromDisk {
			f.refusedLocked(v.Number, 0, err) // Apply logged and counted it
		}
		return res, err
	}
	f.served, f.servedRev = v.Number, 0
	f.setStatus(func(st *metrics.ConfigSourceStatus) {
		st.Loaded, st.Version, st.FromDisk, st.LastApply = true, v.Number, fromDisk, time.Now()
	})
	if fromDisk {
		return res, nil // a refusal of what the registry names still stands
	}
	f.refused, f.refusedRev = 0, 0
	f.setStatus(func(st *metrics.ConfigSourceStatus) { st.Refused, st.RefusedError = 0, "" })
	if f.state != "" {
		if err := WriteCopy(f.state, CopyOf(f.source, f.where, v)); err != nil {
			f.log.Warn("gateway: cannot keep the version serving on disk", "error", err.Error())
		}
	}
	return res, nil
}

// refuseLocked reports what the pointer names when it cannot be used as
// it is in the registry (a version incomplete, altered or too large; a
// pointer that holds no version number) through the Target: one log
// line, one failure counted.
func (f *Follower[R]) refuseLocked(p Pointer, err error) {
	n, what := p.Version, f.source+" version "+strconv.FormatInt(p.Version, 10)
	if p.Bad != nil {
		n, what = -1, f.source+" "+f.st.CurrentKey()
	}
	f.target.Refuse(err, reloader.Request{Trigger: what, FileChange: true})
	f.refusedLocked(n, p.Rev, err)
	f.loadCopyLocked()
}

// refusedLocked records that version n (-1: a pointer that holds no
// version number) was refused, as the pointer stood at rev (0: not
// known).
func (f *Follower[R]) refusedLocked(n, rev int64, err error) {
	f.refused, f.refusedRev = n, rev
	f.setStatus(func(st *metrics.ConfigSourceStatus) {
		st.RefusedTotal++
		st.Refused = n
		st.RefusedError = strings.ReplaceAll(err.Error(), "\n", "; ")
	})
}

// loadCopyLocked applies the copy on disk when no version serves yet:
// when the registry does not answer, or names no version that loads. It
// is tried once.
func (f *Follower[R]) loadCopyLocked() {
	if f.served != 0 || f.state == "" || f.copyTried {
		return
	}
	f.copyTried = true
	v, err := ReadCopy(f.state, f.source, f.where)
	if err != nil {
		f.log.Warn("gateway: no version to serve until the config source names one that loads", "error", err.Error())
		return
	}
	req := reloader.Request{Trigger: "copy on disk version " + strconv.FormatInt(v.Number, 10), FileChange: true}
	if _, err := f.applyLocked(v, req, true); err == nil {
		f.log.Info("gateway: serving the last good version from the copy on disk",
			"version", v.Number, "file", f.state)
	}
}

// Reload reads the current version again and applies it, or, with
// dryRun, says what applying it would change (SIGHUP and POST
// /-/reload). It applies the version even when it serves already.
func (f *Follower[R]) Reload(trigger string, dryRun bool) (R, error) {
	ctx := context.Background()
	req := reloader.Request{Trigger: trigger, DryRun: dryRun}
	p, err := f.st.Current(ctx)
	if err == nil && p.Bad != nil {
		err = p.Bad
	}
	if err == nil && p.Version == 0 {
		err = fmt.Errorf("%s: %s names no version", f.source, f.st.CurrentKey())
	}
	var v Version
	if err == nil {
		v, err = f.st.Version(ctx, p.Version)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		return f.target.Refuse(err, req), err
	}
	return f.applyLocked(v, req, false)
}
