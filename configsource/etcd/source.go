package etcd

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/configsource"
	"github.com/fastgate/gateway/discovery"
	discoveryetcd "github.com/fastgate/gateway/discovery/etcd"
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
// each new one to its Target; see the package doc. What it shares with
// the other registries (applying, refusing, the copy on disk, its Status)
// is its configsource.Follower. Safe for concurrent use.
type Source[R any] struct {
	*configsource.Follower[R]
	st       store
	progress time.Duration
	backoff  discovery.Backoff
	log      *slog.Logger

	compactions atomic.Int64 // watches ended by a compaction
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
	src := &Source[R]{
		st:       store{cli: cli, Layout: configsource.Layout{Prefix: c.Prefix}, timeout: c.RequestTimeout, maxBytes: c.MaxBytes},
		progress: positive(s.ProgressInterval, DefaultProgressInterval),
		backoff:  s.Backoff,
		log:      s.Logger.With("config_source", SourceName, "prefix", c.Prefix),
	}
	src.Follower, err = configsource.NewFollower(configsource.FollowerSettings[R]{
		Source: SourceName, Where: c.Prefix, Store: &src.st, StateFile: s.StateFile,
		Local: s.Local, Target: s.Target, Checks: s.Checks, Logger: src.log,
	})
	if err != nil {
		_ = cli.Close()
		return nil, err
	}
	return src, nil
}

// Close closes the connection to etcd. End Run first.
func (s *Source[R]) Close() error {
	err := s.st.cli.Close()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Run follows the current version until ctx ends. When etcd does not
// answer before a version serves, the copy on disk is applied.
func (s *Source[R]) Run(ctx context.Context) {
	fails := 0
	for ctx.Err() == nil {
		reached, err := s.round(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, discoveryetcd.ErrCompacted) {
			// Not a failure: read current again at once (one key; nothing
			// is applied when it names the version serving).
			s.log.Info("gateway: config source watch fell behind a compaction; reading the current version again")
			s.compactions.Add(1)
			fails = 0
			continue
		}
		s.Lost(err)
		if reached {
			fails = 0
		}
		fails++
		if !discovery.Sleep(ctx, s.backoff.Delay(fails)) {
			return
		}
	}
}

// round reads current, applies it, then watches it until something goes
// wrong; reached says that etcd answered.
func (s *Source[R]) round(ctx context.Context) (reached bool, _ error) {
	p, rev, err := s.st.current(ctx)
	if err != nil {
		return false, err
	}
	s.Reached()
	if err := s.Follow(ctx, p); err != nil {
		return true, err
	}
	return true, s.watch(ctx, rev)
}

// watch follows the current key from the revision after rev, asking for
// a progress notice when it is quiet (a watch waits without a word for an
// etcd that is gone).
func (s *Source[R]) watch(ctx context.Context, rev int64) error {
	key := s.st.CurrentKey()
	return discoveryetcd.FollowWatch(ctx, s.st.cli, key, rev, s.st.timeout, s.progress, func(resp clientv3.WatchResponse) error {
		if len(resp.Events) == 0 {
			return nil
		}
		ev := resp.Events[len(resp.Events)-1] // the last one counts
		var p configsource.Pointer
		if ev.Type == clientv3.EventTypePut {
			p.Rev = ev.Kv.ModRevision
			p.Version, p.Bad = configsource.ParsePointer(key, ev.Kv.Value)
		}
		return s.Follow(ctx, p)
	})
}
