package consul

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/fastgate/gateway/configsource"
	dconsul "github.com/fastgate/gateway/discovery/consul"
)

// Defaults of the zero values of Conn and Settings.
const (
	DefaultPrefix   = "gateway/config/"
	DefaultWaitTime = 5 * time.Minute
	DefaultTimeout  = 10 * time.Second
	DefaultMaxBytes = 8 << 20
	// DefaultMinInterval is the least time between the starts of two
	// queries of the pointer.
	DefaultMinInterval = 250 * time.Millisecond

	// maxFiles is the most files of one version, as for etcd.
	maxFiles = 120
	// maxBytesSetting names the size limit in messages.
	maxBytesSetting = "config_source.consul.max_bytes"
)

// Conn is where in Consul a fleet's versions are: the settings a Source
// and a Publisher share.
type Conn struct {
	// Address is the agent's HTTP API: "host:port" or a URL
	// ("http://host:port", "https://host:port", "unix:///path"). "" means
	// the Consul client's default: $CONSUL_HTTP_ADDR, else 127.0.0.1:8500.
	Address string
	// Token is the ACL token (X-Consul-Token); TokenFile a file holding
	// it, read once, which wins over Token. Both "" mean the Consul
	// client's default: $CONSUL_HTTP_TOKEN_FILE, $CONSUL_HTTP_TOKEN, else
	// none.
	Token, TokenFile string
	// Datacenter to read and write. "" means the agent's own.
	Datacenter string
	// Prefix is where the versions live, a KV path without a leading "/";
	// a missing final "/" is added. "" means DefaultPrefix.
	Prefix string
	// Timeout bounds each read and write (a blocking query gets it on top
	// of its wait). 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxBytes caps one version's size (its files together); a larger one
	// is refused, and no answer is read much beyond it. 0 means
	// DefaultMaxBytes.
	MaxBytes int64
}

func (c Conn) normalized() (Conn, error) {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if strings.HasPrefix(c.Prefix, "/") {
		return c, fmt.Errorf("consul: prefix %q: a Consul KV path has no leading \"/\"", c.Prefix)
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	return c, nil
}

// errTooLarge ends the reading of an answer larger than a version may
// be.
var errTooLarge = errors.New("consul: answer larger than a version may be")

// capped stops reading an answer past max bytes: a 100 MB value is
// refused without being held in memory.
type capped struct {
	rt  http.RoundTripper
	max int64
}

func (c capped) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(r)
	if err == nil {
		resp.Body = &cappedBody{ReadCloser: resp.Body, left: c.max}
	}
	return resp, err
}

type cappedBody struct {
	io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// store reads and writes the layout under one prefix.
type store struct {
	configsource.Layout
	kv        *api.KV
	transport *http.Transport
	dc        string
	timeout   time.Duration
	maxBytes  int64
}

// dial makes the client. It does not contact Consul.
func (c Conn) dial() (*store, error) {
	c, err := c.normalized()
	if err != nil {
		return nil, err
	}
	// The transport of the gateway's Consul clients, with the TLS
	// settings of the client's environment ($CONSUL_CACERT, ...), under
	// a cap on each answer: a whole version base64-encoded, with room
	// for the JSON around its files (120 at most).
	transport := dconsul.NewTransport()
	addr := c.Address
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		// The Consul client would make a client of its own for a socket,
		// without the cap: dial the socket from this transport instead.
		transport.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		addr = "http://consul"
	}
	hc, err := api.NewHttpClient(transport, api.DefaultConfig().TLSConfig)
	if err != nil {
		return nil, fmt.Errorf("consul: %w", err)
	}
	hc.Transport = capped{rt: transport, max: c.MaxBytes/3*4 + 64<<10}
	cli, err := api.NewClient(&api.Config{
		Address: addr, Token: c.Token, TokenFile: c.TokenFile,
		Transport: transport, HttpClient: hc,
	})
	if err != nil {
		return nil, fmt.Errorf("consul: %w", err)
	}
	return &store{kv: cli.KV(), transport: transport, dc: c.Datacenter, Layout: configsource.Layout{Prefix: c.Prefix}, timeout: c.Timeout, maxBytes: c.MaxBytes}, nil
}

// close drops the idle connections.
func (s *store) close() { s.transport.CloseIdleConnections() }

var _ configsource.Store = (*store)(nil)

// query is the read options of one request: the datacenter, and for a
// blocking query the index and wait. The answer is read under the
// returned context.
func (s *store) query(ctx context.Context, index uint64, wait time.Duration) (*api.QueryOptions, context.CancelFunc) {
	timeout := s.timeout
	q := &api.QueryOptions{Datacenter: s.dc}
	if index > 0 {
		q.WaitIndex, q.WaitTime = index, wait
		timeout += wait + wait/16 // Consul adds up to wait/16
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	return q.WithContext(rctx), cancel
}

// Current reads the pointer at once.
func (s *store) Current(ctx context.Context) (configsource.Pointer, error) {
	p, _, err := s.current(ctx, 0, 0)
	return p, err
}

// current reads the pointer; with index > 0, as a blocking query that
// Consul holds until the key's index passes index or wait runs out. It
// returns the answer's X-Consul-Index. Pointer.Rev is the key's
// ModifyIndex.
func (s *store) current(ctx context.Context, index uint64, wait time.Duration) (configsource.Pointer, uint64, error) {
	q, cancel := s.query(ctx, index, wait)
	defer cancel()
	pair, meta, err := s.kv.Get(s.CurrentKey(), q)
	if errors.Is(err, errTooLarge) {
		// The key's index, without its value (?keys), so that the next
		// query blocks until the key changes again.
		kq, kcancel := s.query(ctx, 0, 0)
		defer kcancel()
		_, kmeta, kerr := s.kv.Keys(s.CurrentKey(), "", kq)
		if kerr != nil {
			return configsource.Pointer{}, 0, failed(ctx, "read "+s.CurrentKey(), kerr)
		}
		bad := fmt.Errorf("%s: the value is larger than a version number can be", s.CurrentKey())
		return configsource.Pointer{Rev: int64(kmeta.LastIndex), Bad: bad}, kmeta.LastIndex, nil
	}
	if err != nil {
		return configsource.Pointer{}, 0, failed(ctx, "read "+s.CurrentKey(), err)
	}
	var p configsource.Pointer
	if pair != nil {
		p.Rev = int64(pair.ModifyIndex)
		p.Version, p.Bad = configsource.ParsePointer(s.CurrentKey(), pair.Value)
	}
	return p, meta.LastIndex, nil
}

// failed words an error of Consul's.
func failed(ctx context.Context, what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("no answer in time: %w", err)
	}
	return fmt.Errorf("consul: %s: %w", what, err)
}

// Version reads version n, all its keys in one ?recurse read, and checks
// it against its manifest.
func (s *store) Version(ctx context.Context, n int64) (configsource.Version, error) {
	dir := s.VersionDir(n)
	q, cancel := s.query(ctx, 0, 0)
	defer cancel()
	pairs, _, err := s.kv.List(dir, q)
	if errors.Is(err, errTooLarge) {
		return configsource.Version{}, configsource.Badf("%s: the keys are larger than a version may be (%d bytes, %s)", dir, s.maxBytes, maxBytesSetting)
	}
	if err != nil {
		return configsource.Version{}, failed(ctx, "read "+dir, err)
	}
	values := make(map[string][]byte, len(pairs))
	for _, p := range pairs {
		values[p.Key] = p.Value
	}
	return s.ReadVersion(n, s.maxBytes, maxBytesSetting, func(key string) ([]byte, bool, error) {
		b, ok := values[key]
		return b, ok, nil
	})
}
