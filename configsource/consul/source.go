package consul

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/configsource"
	"github.com/fastgate/gateway/discovery"
	dconsul "github.com/fastgate/gateway/discovery/consul"
	"github.com/fastgate/gateway/reloader"
)

// SourceName is the name of this source in metrics, logs and copies.
const SourceName = "consul"

// Settings configures a Source. R is the Target's report of one reload.
type Settings[R any] struct {
	// Conn says where the versions are.
	Conn Conn
	// WaitTime is how long one blocking query of the pointer may wait
	// for a change. 0 means DefaultWaitTime (5m, Consul's default);
	// above dconsul.MaxWaitTime (10m) is that.
	WaitTime time.Duration
	// MinInterval is the least time between the starts of two queries: a
	// cap on the query rate when answers come back at once. 0 means
	// DefaultMinInterval.
	MinInterval time.Duration
	// Backoff paces the retries after failures. The zero value waits
	// 250ms, doubling up to 30s, with jitter.
	Backoff discovery.Backoff
	// StateFile is where the last good version is kept. "" means no copy.
	StateFile string
	// Local is the instance's own configuration; see
	// configsource.FollowerSettings. Required.
	Local *config.Config
	// Target receives each version loaded. Required.
	Target reloader.Target[R]
	// Checks are passed to the loading of every version.
	Checks []config.Check
	// Logger receives the source's lines. Nil means slog.Default().
	Logger *slog.Logger
}

// Source follows the version published under a prefix of Consul KV and
// hands each new one to its Target; see the package doc. Safe for
// concurrent use.
type Source[R any] struct {
	*configsource.Follower[R]
	st          *store
	wait        time.Duration
	minInterval time.Duration
	backoff     discovery.Backoff
}

// New returns a Source. It does not contact Consul yet: Run does.
func New[R any](s Settings[R]) (*Source[R], error) {
	if s.Target == nil || s.Local == nil {
		return nil, errors.New("consul: Settings.Target and Settings.Local are required")
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	st, err := s.Conn.dial()
	if err != nil {
		return nil, err
	}
	src := &Source[R]{
		st:          st,
		wait:        min(positive(s.WaitTime, DefaultWaitTime), dconsul.MaxWaitTime),
		minInterval: positive(s.MinInterval, DefaultMinInterval),
		backoff:     s.Backoff,
	}
	src.Follower, err = configsource.NewFollower(configsource.FollowerSettings[R]{
		Source: SourceName, Where: st.Prefix, Store: st, StateFile: s.StateFile,
		Local: s.Local, Target: s.Target, Checks: s.Checks,
		Logger: s.Logger.With("config_source", SourceName, "prefix", st.Prefix),
	})
	if err != nil {
		return nil, err
	}
	return src, nil
}

// Close drops the idle connections to Consul. End Run first.
func (s *Source[R]) Close() error {
	s.st.close()
	return nil
}

// Run follows the pointer with blocking queries until ctx ends. When
// Consul does not answer before a version serves, the copy on disk is
// applied.
func (s *Source[R]) Run(ctx context.Context) {
	var (
		index uint64 // 0: the next query reads at once
		fails int
		next  time.Time // earliest start of the next query
	)
	for {
		if !discovery.Sleep(ctx, time.Until(next)) {
			return
		}
		next = time.Now().Add(s.minInterval)
		p, got, err := s.st.current(ctx, index, s.wait)
		if err == nil {
			s.Reached()
			// Nothing is read or applied when the pointer names the
			// version serving, or one refused already.
			err = s.Follow(ctx, p)
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			fails++
			s.Lost(err)
			// Start over with a plain read once Consul answers again: it
			// may come back with lower indexes.
			index = 0
			if !discovery.Sleep(ctx, s.backoff.Delay(fails)) {
				return
			}
			continue
		}
		fails = 0
		index = dconsul.NextIndex(index, got)
	}
}

func positive(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
