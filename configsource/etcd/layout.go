package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fastgate/gateway/configsource"
)

// Defaults of the zero values of Settings and PublishSettings.
const (
	DefaultEndpoint         = "127.0.0.1:2379"
	DefaultPrefix           = "/gateway/config/"
	DefaultDialTimeout      = 5 * time.Second
	DefaultRequestTimeout   = 5 * time.Second
	DefaultProgressInterval = 5 * time.Second
	DefaultMaxBytes         = 8 << 20

	// maxReconnectDelay caps the wait between two attempts to reconnect
	// (gRPC's own default grows to 2 minutes).
	maxReconnectDelay = 2 * time.Second
	// maxFiles is the most files of one version: a publication is one
	// transaction, and etcd allows 128 operations in one by default.
	maxFiles = 120
)

// Conn is where in etcd a fleet's versions are: the connection settings
// a Source and a Publisher share.
type Conn struct {
	// Endpoints are the members' client addresses. Empty means
	// DefaultEndpoint.
	Endpoints []string
	// Prefix is where the versions live; a missing final "/" is added.
	// "" means DefaultPrefix.
	Prefix string
	// Username and Password log in to an etcd with authentication on.
	// Empty means none.
	Username, Password string
	// DialTimeout bounds connecting. 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// RequestTimeout bounds each read and write. 0 means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxBytes caps one version's size (its files together); a larger
	// one is refused. 0 means DefaultMaxBytes.
	MaxBytes int64
}

// store reads and writes the layout under one prefix.
type store struct {
	cli *clientv3.Client
	configsource.Layout
	timeout  time.Duration
	maxBytes int64
}

func (c Conn) normalized() Conn {
	if len(c.Endpoints) == 0 {
		c.Endpoints = []string{DefaultEndpoint}
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	c.DialTimeout = positive(c.DialTimeout, DefaultDialTimeout)
	c.RequestTimeout = positive(c.RequestTimeout, DefaultRequestTimeout)
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	return c
}

// dial makes the client. It does not wait for etcd: the first request
// does.
func (c Conn) dial() (*clientv3.Client, error) {
	for _, ep := range c.Endpoints {
		if strings.TrimSpace(ep) == "" {
			return nil, errors.New("etcd: an empty endpoint")
		}
	}
	if (c.Username == "") != (c.Password == "") {
		return nil, errors.New("etcd: set both username and password, or neither")
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   c.Endpoints,
		DialTimeout: c.DialTimeout,
		Username:    c.Username,
		Password:    c.Password,
		Logger:      zap.NewNop(), // failures are reported by the caller
		// A value larger than a whole version is refused by the client
		// before it is held in memory.
		MaxCallRecvMsgSize: int(max(c.MaxBytes+1<<20, 4<<20)),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: maxReconnectDelay,
			},
			MinConnectTimeout: c.DialTimeout,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("etcd: connect to %v: %w", c.Endpoints, err)
	}
	return cli, nil
}

var _ configsource.Store = (*store)(nil)

// Current reads the current key. Pointer.Rev is its mod revision.
func (s *store) Current(ctx context.Context) (configsource.Pointer, error) {
	p, _, err := s.current(ctx)
	return p, err
}

// current reads the current key, and the store's revision then.
func (s *store) current(ctx context.Context) (_ configsource.Pointer, rev int64, _ error) {
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.cli.Get(rctx, s.CurrentKey())
	if status.Code(err) == codes.ResourceExhausted {
		// Refused once: its mod revision is unknown, -1 stands for it.
		return configsource.Pointer{Rev: -1, Bad: fmt.Errorf("%s: the value is larger than a version number can be", s.CurrentKey())}, 0, nil
	}
	if err != nil {
		return configsource.Pointer{}, 0, fmt.Errorf("etcd: read %s: %w", s.CurrentKey(), err)
	}
	var p configsource.Pointer
	if len(resp.Kvs) > 0 {
		p.Rev = resp.Kvs[0].ModRevision
		p.Version, p.Bad = configsource.ParsePointer(s.CurrentKey(), resp.Kvs[0].Value)
	}
	return p, resp.Header.Revision, nil
}

// Version reads version n and checks it against its manifest.
func (s *store) Version(ctx context.Context, n int64) (configsource.Version, error) {
	return s.ReadVersion(n, s.maxBytes, maxBytesSetting, func(key string) ([]byte, bool, error) { return s.get(ctx, key) })
}

// maxBytesSetting names the size limit in messages.
const maxBytesSetting = "config_source.etcd.max_bytes"

// get reads one key; ok is false when it does not exist. A value too
// large for the client is a bad version.
func (s *store) get(ctx context.Context, key string) (_ []byte, ok bool, _ error) {
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.cli.Get(rctx, key)
	if status.Code(err) == codes.ResourceExhausted {
		return nil, false, configsource.Badf("%s: the value is larger than a version may be (%d bytes, %s)", key, s.maxBytes, maxBytesSetting)
	}
	if err != nil {
		return nil, false, fmt.Errorf("etcd: read %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, false, nil
	}
	return resp.Kvs[0].Value, true, nil
}

func positive(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
