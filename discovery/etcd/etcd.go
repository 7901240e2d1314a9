package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/fastgate/gateway/discovery"
)

// Defaults of Settings' zero values.
const (
	DefaultEndpoint         = "127.0.0.1:2379"
	DefaultDialTimeout      = 5 * time.Second
	DefaultRequestTimeout   = 5 * time.Second
	DefaultProgressInterval = 5 * time.Second

	// maxReconnectDelay caps the wait between two attempts to reconnect
	// to etcd (gRPC's own default grows to 2 minutes), so an etcd that
	// comes back is followed again within seconds.
	maxReconnectDelay = 2 * time.Second
)

// Settings configures a Watcher. Every zero value has a meaning, given
// with each field.
type Settings struct {
	// Endpoints are the etcd members' client URLs or host:port pairs.
	// Empty means DefaultEndpoint (127.0.0.1:2379).
	Endpoints []string
	// Prefix is the key prefix of the layout <prefix><service>/<id>; a
	// missing final "/" is added. "" means DefaultPrefix ("/services/").
	Prefix string
	// DialTimeout bounds connecting (and logging in, with Username). 0
	// (or less) means DefaultDialTimeout (5s).
	DialTimeout time.Duration
	// Username and Password log in to an etcd with authentication on.
	// Empty means no authentication.
	Username, Password string
	// RequestTimeout bounds each listing of a service, and how long a
	// progress request may go unanswered before the watch counts as
	// broken. 0 (or less) means DefaultRequestTimeout (5s).
	RequestTimeout time.Duration
	// ProgressInterval is how long a watch may go without hearing from
	// etcd before it asks for a progress notice: the check that etcd is
	// still there when nothing changes, and the sync time of a quiet
	// service. 0 (or less) means DefaultProgressInterval (5s).
	ProgressInterval time.Duration
	// Backoff paces the retries after failures. The zero value waits
	// 250ms, doubling up to 30s, with jitter.
	Backoff discovery.Backoff
}

// Watcher follows services registered in etcd under a key prefix. It
// connects on first use, so an etcd that is down when the gateway starts
// is retried by Watch like any later outage. Safe for concurrent use; a
// Registry runs one Watch per service, all over one client connection.
type Watcher struct {
	cfg              clientv3.Config
	prefix           string
	requestTimeout   time.Duration
	progressInterval time.Duration
	backoff          discovery.Backoff

	mu     sync.Mutex
	cli    *clientv3.Client
	closed bool

	compactions atomic.Int64 // watches ended by a compaction
}

var _ discovery.Watcher = (*Watcher)(nil)

// New returns a Watcher with the settings s. It does not connect yet.
func New(s Settings) (*Watcher, error) {
	eps := s.Endpoints
	if len(eps) == 0 {
		eps = []string{DefaultEndpoint}
	}
	for _, ep := range eps {
		if strings.TrimSpace(ep) == "" {
			return nil, errors.New("etcd: an empty endpoint")
		}
	}
	if (s.Username == "") != (s.Password == "") {
		return nil, errors.New("etcd: set both username and password, or neither")
	}
	return &Watcher{
		cfg: clientv3.Config{
			Endpoints:   append([]string(nil), eps...),
			DialTimeout: positive(s.DialTimeout, DefaultDialTimeout),
			Username:    s.Username,
			Password:    s.Password,
			// Failures reach the Registry's status as errors; the
			// client's own log lines would only repeat them.
			Logger: zap.NewNop(),
			DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
				Backoff: backoff.Config{
					BaseDelay:  100 * time.Millisecond,
					Multiplier: 1.6,
					Jitter:     0.2,
					MaxDelay:   maxReconnectDelay,
				},
				MinConnectTimeout: positive(s.DialTimeout, DefaultDialTimeout),
			})},
		},
		prefix:           normalPrefix(s.Prefix),
		requestTimeout:   positive(s.RequestTimeout, DefaultRequestTimeout),
		progressInterval: positive(s.ProgressInterval, DefaultProgressInterval),
		backoff:          s.Backoff,
	}, nil
}

// Prefix returns the key prefix in use, ending in "/".
func (w *Watcher) Prefix() string { return w.prefix }

// client returns the etcd client, connecting on first use.
func (w *Watcher) client() (*clientv3.Client, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errors.New("etcd: watcher closed")
	}
	if w.cli == nil {
		cli, err := clientv3.New(w.cfg)
		if err != nil {
			return nil, fmt.Errorf("etcd: connect to %v: %w", w.cfg.Endpoints, err)
		}
		w.cli = cli
	}
	return w.cli, nil
}

// Close closes the connection to etcd. Stop every Watch (end its
// context) first.
func (w *Watcher) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.cli == nil {
		return nil
	}
	err := w.cli.Close()
	w.cli = nil
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// Watch follows service until ctx ends; see discovery.Watcher and the
// package doc for the cycle of listing and watching.
func (w *Watcher) Watch(ctx context.Context, service string, send func(discovery.Update)) error {
	if service == "" || strings.Contains(service, "/") {
		return fmt.Errorf("etcd: service name %q: want a name without '/'", service)
	}
	f := &follower{w: w, dir: w.prefix + service + "/", send: send}
	fails := 0
	for ctx.Err() == nil {
		err := f.round(ctx)
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, ErrCompacted) {
			// Not a failure: the watch fell behind a compaction. List
			// again at once.
			w.compactions.Add(1)
			fails = 0
			continue
		}
		if f.listed {
			fails = 0 // the last round got through: start the backoff over
		}
		fails++
		send(discovery.Update{Err: err})
		if !discovery.Sleep(ctx, w.backoff.Delay(fails)) {
			break
		}
	}
	return nil
}

func positive(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
