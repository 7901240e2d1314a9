package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
	cli      *clientv3.Client
	prefix   string
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

func (s *store) currentKey() string { return s.prefix + "current" }

func (s *store) versionDir(n int64) string {
	return s.prefix + "versions/" + strconv.FormatInt(n, 10) + "/"
}

func (s *store) manifestKey(n int64) string { return s.versionDir(n) + "manifest" }

// fileKey is the key of a version's file: errors in it name this key.
func (s *store) fileKey(n int64, name string) string { return s.versionDir(n) + "files/" + name }

// manifest lists a version's files.
type manifest struct {
	Version   int64          `json:"version"`
	Files     []manifestFile `json:"files"`
	Published time.Time      `json:"published"`
	By        string         `json:"by,omitempty"`
}

type manifestFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// pointer is what current says.
type pointer struct {
	Version     int64 // 0: no current key
	ModRevision int64 // of the current key; 0 when there is none
	Revision    int64 // of the store when it was read
	Bad         error // current holds no version number
}

// current reads the current key.
func (s *store) current(ctx context.Context) (pointer, error) {
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.cli.Get(rctx, s.currentKey())
	if status.Code(err) == codes.ResourceExhausted {
		// Refused once: its mod revision is unknown, -1 stands for it.
		return pointer{ModRevision: -1, Bad: fmt.Errorf("%s: the value is larger than a version number can be", s.currentKey())}, nil
	}
	if err != nil {
		return pointer{}, fmt.Errorf("etcd: read %s: %w", s.currentKey(), err)
	}
	p := pointer{Revision: resp.Header.Revision}
	if len(resp.Kvs) > 0 {
		p.ModRevision = resp.Kvs[0].ModRevision
		p.Version, p.Bad = s.parsePointer(resp.Kvs[0].Value)
	}
	return p, nil
}

func (s *store) parsePointer(b []byte) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: want a version number, got %q", s.currentKey(), clip(b))
	}
	return n, nil
}

// badVersion is a version that cannot be used as it is in etcd:
// incomplete, altered, too large, or gone. Reading it again does not
// help, unlike a failure to reach etcd.
type badVersion struct{ msg string }

func (e *badVersion) Error() string { return e.msg }

func badf(format string, args ...any) error {
	return &badVersion{fmt.Sprintf(format, args...)}
}

// isBad reports whether err is a problem of the version rather than of
// reaching etcd.
func isBad(err error) bool {
	var b *badVersion
	return errors.As(err, &b)
}

// version reads version n and checks it against its manifest.
func (s *store) version(ctx context.Context, n int64) (configsource.Version, error) {
	m, err := s.readManifest(ctx, n)
	if err != nil {
		return configsource.Version{}, err
	}
	v := configsource.Version{Number: n, Files: make(map[string][]byte, len(m.Files))}
	for _, f := range m.Files {
		key := s.fileKey(n, f.Name)
		b, ok, err := s.get(ctx, key)
		switch {
		case err != nil:
			return configsource.Version{}, err
		case !ok:
			return configsource.Version{}, badf("%s is missing: version %d is incomplete (half-written, or its keys were deleted)", key, n)
		case int64(len(b)) != f.Size || configsource.Digest(b) != f.SHA256:
			return configsource.Version{}, badf("%s does not match the manifest of version %d (half-written or altered)", key, n)
		}
		v.Files[f.Name] = b
	}
	return v, nil
}

func (s *store) readManifest(ctx context.Context, n int64) (manifest, error) {
	key := s.manifestKey(n)
	b, ok, err := s.get(ctx, key)
	if err != nil {
		return manifest{}, err
	}
	if !ok {
		return manifest{}, badf("%s is missing: there is no complete version %d", key, n)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return manifest{}, badf("%s: not a manifest: %v", key, err)
	}
	if m.Version != n {
		return manifest{}, badf("%s: the manifest is of version %d", key, m.Version)
	}
	var total int64
	seen := map[string]bool{}
	for _, f := range m.Files {
		if msg := configsource.CheckName(f.Name); msg != "" {
			return manifest{}, badf("%s: file %q: %s", key, f.Name, msg)
		}
		if seen[f.Name] {
			return manifest{}, badf("%s: file %q listed twice", key, f.Name)
		}
		seen[f.Name] = true
		total += max(f.Size, 0)
	}
	if total > s.maxBytes {
		return manifest{}, badf("version %d is %d bytes, over the limit of %d (config_source.etcd.max_bytes)", n, total, s.maxBytes)
	}
	return m, nil
}

// get reads one key; ok is false when it does not exist. A value too
// large for the client is a bad version.
func (s *store) get(ctx context.Context, key string) (_ []byte, ok bool, _ error) {
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.cli.Get(rctx, key)
	if status.Code(err) == codes.ResourceExhausted {
		return nil, false, badf("%s: the value is larger than a version may be (%d bytes, config_source.etcd.max_bytes)", key, s.maxBytes)
	}
	if err != nil {
		return nil, false, fmt.Errorf("etcd: read %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, false, nil
	}
	return resp.Kvs[0].Value, true, nil
}

// clip shortens a value for a message.
func clip(b []byte) string {
	const n = 40
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func positive(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
