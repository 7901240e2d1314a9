package etcd

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

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/configsource"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/metrics"
	"github.com/fastgate/gateway/reloader"
)

// SourceName is the name of this source in metrics, logs and copies.
const SourceName = "etcd"

// Settings configures a Source. R is the Target's report of one reload.
type Settings[R any] struct {
	// Conn says where the versions are.
	Conn Conn
	// ProgressInterval is how long a watch may go without hearing from
	// etcd before it asks for a progress notice, the check that etcd is
	// still there. 0 means DefaultProgressInterval.
	ProgressInterval time.Duration
	// Backoff paces the retries after failures. The zero value waits
	// 250ms, doubling up to 30s, with jitter.
	Backoff discovery.Backoff
	// StateFile is where the last good version is kept. "" means no copy.
	StateFile string
	// Local is the instance's own configuration (its file, with the
	// config_source). The settings that need a restart (listen, admin,
	// discovery, cache, config_source, the listener's) are each
	// instance's own: every version is applied with Local's values of
	// them, and a version that sets one differently is logged. Required.
	Local *config.Config
	// Target receives each version loaded. Required.
	Target reloader.Target[R]
	// Checks are passed to the loading of every version (the gateway's
	// route conflicts).
	Checks []config.Check
	// Logger receives the source's lines. Nil means slog.Default().
	Logger *slog.Logger
}

// Source follows the version published under a prefix of etcd and hands
// each new one to its Target; see the package doc. Safe for concurrent
// use.
type Source[R any] struct {
	st       store
	progress time.Duration
	backoff  discovery.Backoff
	state    string
	local    *config.Config
	target   reloader.Target[R]
	checks   []config.Check
	log      *slog.Logger

	mu      sync.Mutex // serializes the Target's calls; guards what follows
	served  int64      // the version serving (0 none)
	refused int64      // the version refused while it is current (0 none)
	// refusedRev is the mod revision of a current that was refused for
	// holding no version number (0 none).
	refusedRev int64
	gone       bool // current was deleted: reported once
	copyTried  bool // the copy on disk was tried (once)
	// warned holds the version whose own settings were last reported.
	warned []int64

	stMu   sync.Mutex
	status metrics.ConfigSourceStatus

	compactions atomic.Int64 // watches ended by a compaction
	outage      atomic.Bool  // etcd stopped answering; logged once
}

// New returns a Source. It does not connect yet: Run does.
func New[R any](s Settings[R]) (*Source[R], error) {
	if s.Target == nil || s.Local == nil {
		return nil, errors.New("etcd: Settings.Target and Settings.Local are required")
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	c := s.Conn.normalized()
	cli, err := c.dial()
	if err != nil {
		return nil, err
	}
	return &Source[R]{
		st:       store{cli: cli, prefix: c.Prefix, timeout: c.RequestTimeout, maxBytes: c.MaxBytes},
		progress: positive(s.ProgressInterval, DefaultProgressInterval),
		backoff:  s.Backoff,
		state:    s.StateFile,
		local:    s.Local,
		target:   s.Target,
		checks:   s.Checks,
		log:      s.Logger.With("config_source", SourceName, "prefix", c.Prefix),
		status:   metrics.ConfigSourceStatus{Source: SourceName},
	}, nil
}

// Status says what serves and how etcd answers.
func (s *Source[R]) Status() metrics.ConfigSourceStatus {
	s.stMu.Lock()
	defer s.stMu.Unlock()
	return s.status
}

func (s *Source[R]) setStatus(f func(*metrics.ConfigSourceStatus)) {
	s.stMu.Lock()
	f(&s.status)
	s.stMu.Unlock()
}

// Close closes the connection to etcd. End Run first.
func (s *Source[R]) Close() error {
	err := s.st.cli.Close()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// errCompacted ends a watch whose next revision etcd compacted away.
var errCompacted = errors.New("etcd: watch revision compacted")

// Run follows the current version until ctx ends. When etcd does not
// answer before a version serves, the copy on disk is applied.
func (s *Source[R]) Run(ctx context.Context) {
	fails := 0
	for ctx.Err() == nil {
		reached, err := s.round(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errCompacted) {
			// Not a failure: read current again at once (one key; nothing
			// is applied when it names the version serving).
			s.log.Info("gateway: config source watch fell behind a compaction; reading the current version again")
			s.compactions.Add(1)
			fails = 0
			continue
		}
		s.lost(err)
		s.loadCopy()
		if reached {
			fails = 0
		}
		fails++
		if !discovery.Sleep(ctx, s.backoff.Delay(fails)) {
			return
		}
	}
}

// lost records that etcd stopped answering (or a watch broke): logged
// once per outage.
func (s *Source[R]) lost(err error) {
	s.setStatus(func(st *metrics.ConfigSourceStatus) { st.Reachable = false })
	if !s.outage.Swap(true) {
		s.log.Warn("gateway: config source does not answer; what serves keeps serving", "error", err.Error())
	}
}

// round reads current, applies it, then watches it until something goes
// wrong; reached says that etcd answered.
func (s *Source[R]) round(ctx context.Context) (reached bool, _ error) {
	p, err := s.st.current(ctx)
	if err != nil {
		return false, err
	}
	s.setStatus(func(st *metrics.ConfigSourceStatus) { st.Reachable = true })
	if s.outage.Swap(false) {
		s.log.Info("gateway: config source answers again")
	}
	if err := s.follow(ctx, p, "etcd"); err != nil {
		return true, err
	}
	return true, s.watch(ctx, p.Revision)
}

// watch follows the current key from the revision after rev, asking for
// a progress notice when it is quiet (a watch waits without a word for an
// etcd that is gone).
func (s *Source[R]) watch(ctx context.Context, rev int64) error {
	leader := clientv3.WithRequireLeader(ctx)
	wctx, cancel := context.WithCancel(leader)
	defer cancel()
	stuck := time.AfterFunc(s.st.timeout, cancel)
	wch := s.st.cli.Watch(wctx, s.st.currentKey(), clientv3.WithRev(rev+1))
	if !stuck.Stop() {
		return fmt.Errorf("etcd: watch of %s not started within %v", s.st.currentKey(), s.st.timeout)
	}
	timer := time.NewTimer(s.progress)
	defer timer.Stop()
	asked := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case resp, ok := <-wch:
			if !ok {
				return errors.New("etcd: watch ended")
			}
			if resp.CompactRevision != 0 {
				return errCompacted
			}
			if err := resp.Err(); err != nil {
				return fmt.Errorf("etcd: watch %s: %w", s.st.currentKey(), err)
			}
			if resp.Canceled {
				return fmt.Errorf("etcd: watch %s canceled", s.st.currentKey())
			}
			asked = false
			timer.Reset(s.progress)
			if len(resp.Events) == 0 {
				continue
			}
			ev := resp.Events[len(resp.Events)-1] // the last one counts
			p := pointer{Revision: resp.Header.Revision}
			if ev.Type == clientv3.EventTypePut {
				p.ModRevision = ev.Kv.ModRevision
				p.Version, p.Bad = s.st.parsePointer(ev.Kv.Value)
			}
			if err := s.follow(ctx, p, "etcd"); err != nil {
				return err
			}
		case <-timer.C:
			if asked {
				return fmt.Errorf("etcd: no progress notice within %v", s.st.timeout)
			}
			pctx, pcancel := context.WithTimeout(leader, s.st.timeout)
			err := s.st.cli.RequestProgress(pctx)
			pcancel()
			if err != nil {
				return fmt.Errorf("etcd: progress request: %w", err)
			}
			asked = true
			timer.Reset(s.st.timeout)
		}
	}
}

// follow makes the version p names serve, unless it serves already or
// was refused. It returns an error only when etcd failed to answer.
func (s *Source[R]) follow(ctx context.Context, p pointer, trigger string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case p.Bad != nil && p.ModRevision == s.refusedRev:
		return nil // reported already
	case p.Bad != nil:
		s.refuseLocked(p, p.Bad, trigger)
		return nil
	case p.Version == 0:
		if !s.gone {
			s.gone = true
			s.log.Warn("gateway: config source names no current version; what serves keeps serving",
				"key", s.st.currentKey(), "serving", s.served)
		}
		s.loadCopyLocked()
		return nil
	case p.Version == s.served:
		// Nothing to apply; what serves is what etcd names.
		s.refused, s.refusedRev = 0, 0
		s.setStatus(func(st *metrics.ConfigSourceStatus) { st.FromDisk, st.Refused, st.RefusedError = false, 0, "" })
		return nil
	case p.Version == s.refused:
		return nil // reported already
	}
	s.gone = false
	v, err := s.st.version(ctx, p.Version)
	if err != nil {
		if !isBad(err) {
			return err
		}
		s.refuseLocked(p, err, trigger)
		return nil
	}
	if _, err := s.applyLocked(v, reloader.Request{Trigger: trigger + " version " + strconv.FormatInt(v.Number, 10), FileChange: true}, false); err != nil {
		s.loadCopyLocked()
	}
	return nil
}

// applyLocked loads v and hands it to the Target; fromDisk says where it
// was read. On success v serves, and (read from etcd) is kept on disk.
func (s *Source[R]) applyLocked(v configsource.Version, req reloader.Request, fromDisk bool) (R, error) {
	cfg, err := v.Load(func(name string) string { return s.st.fileKey(v.Number, name) }, s.checks...)
	if err != nil {
		res := s.target.Refuse(err, req) // logs and counts it
		if !req.DryRun && !fromDisk {
			s.refusedLocked(v.Number, 0, err)
		}
		return res, err
	}
	loaded := cfg
	cfg, own := cfg.InEffect(s.local)
	if req.DryRun {
		return s.target.Preview(cfg, req)
	}
	own = slices.DeleteFunc(own, func(p string) bool { // only what the version wrote
		_, _, ok := loaded.Position(p)
		return !ok
	})
	if len(own) > 0 && !slices.Contains(s.warned, v.Number) {
		s.warned = append(s.warned[:0], v.Number)
		s.log.Warn("gateway: the version sets settings that are each instance's own; this instance keeps those of its file",
			"version", v.Number, "settings", strings.Join(own, ","))
	}
	res, err := s.target.Apply(cfg, req)
	if err != nil {
		if !fromDisk {
			s.refusedLocked(v.Number, 0, err) // Apply logged and counted it
		}
		return res, err
	}
	s.served = v.Number
	s.setStatus(func(st *metrics.ConfigSourceStatus) {
		st.Loaded, st.Version, st.FromDisk, st.LastApply = true, v.Number, fromDisk, time.Now()
	})
	if fromDisk {
		return res, nil // a refusal of what etcd names still stands
	}
	s.refused, s.refusedRev = 0, 0
	s.setStatus(func(st *metrics.ConfigSourceStatus) { st.Refused, st.RefusedError = 0, "" })
	if s.state != "" {
		if err := configsource.WriteCopy(s.state, configsource.CopyOf(SourceName, s.st.prefix, v)); err != nil {
			s.log.Warn("gateway: cannot keep the version serving on disk", "error", err.Error())
		}
	}
	return res, nil
}

// refuseLocked reports what current names when it cannot be used as it
// is in etcd (a version incomplete, altered or too large; a current that
// holds no version number) through the Target: one log line, one failure
// counted.
func (s *Source[R]) refuseLocked(p pointer, err error, trigger string) {
	n, what := p.Version, trigger+" version "+strconv.FormatInt(p.Version, 10)
	if p.Bad != nil {
		n, what = -1, trigger+" "+s.st.currentKey()
	}
	s.target.Refuse(err, reloader.Request{Trigger: what, FileChange: true})
	s.refusedLocked(n, p.ModRevision, err)
	s.loadCopyLocked()
}

// refusedLocked records that version n (-1: a current that holds no
// version number) was refused, as current stood at mod revision rev (0:
// not known).
func (s *Source[R]) refusedLocked(n, rev int64, err error) {
	s.refused, s.refusedRev = n, rev
	s.setStatus(func(st *metrics.ConfigSourceStatus) {
		st.RefusedTotal++
		st.Refused = n
		st.RefusedError = strings.ReplaceAll(err.Error(), "\n", "; ")
	})
}

// loadCopy applies the copy on disk when no version serves yet: when etcd
// does not answer, or names no version that loads. It is tried once.
func (s *Source[R]) loadCopy() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadCopyLocked()
}

func (s *Source[R]) loadCopyLocked() {
	if s.served != 0 || s.state == "" || s.copyTried {
		return
	}
	s.copyTried = true
	v, err := configsource.ReadCopy(s.state, SourceName, s.st.prefix)
	if err != nil {
		s.log.Warn("gateway: no version to serve until the config source names one that loads", "error", err.Error())
		return
	}
	req := reloader.Request{Trigger: "copy on disk version " + strconv.FormatInt(v.Number, 10), FileChange: true}
	if _, err := s.applyLocked(v, req, true); err == nil {
		s.log.Info("gateway: serving the last good version from the copy on disk",
			"version", v.Number, "file", s.state)
	}
}

// Reload reads the current version again and applies it, or, with
// dryRun, says what applying it would change (SIGHUP and POST
// /-/reload). It applies the version even when it serves already.
func (s *Source[R]) Reload(trigger string, dryRun bool) (R, error) {
	ctx := context.Background()
	req := reloader.Request{Trigger: trigger, DryRun: dryRun}
	p, err := s.st.current(ctx)
	if err == nil && p.Bad != nil {
		err = p.Bad
	}
	if err == nil && p.Version == 0 {
		err = fmt.Errorf("etcd: %s names no version", s.st.currentKey())
	}
	var v configsource.Version
	if err == nil {
		v, err = s.st.version(ctx, p.Version)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		return s.target.Refuse(err, req), err
	}
	return s.applyLocked(v, req, false)
}
