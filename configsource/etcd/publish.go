package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fastgate/gateway/configsource"
)

// Publisher writes versions under a prefix and makes them current. Safe
// for concurrent use.
type Publisher struct {
	st store
}

// NewPublisher returns a Publisher; it connects on first use.
func NewPublisher(c Conn) (*Publisher, error) {
	c = c.normalized()
	cli, err := c.dial()
	if err != nil {
		return nil, err
	}
	return &Publisher{st: store{cli: cli, Layout: configsource.Layout{Prefix: c.Prefix}, timeout: c.RequestTimeout, maxBytes: c.MaxBytes}}, nil
}

// Close closes the connection.
func (p *Publisher) Close() error { return p.st.cli.Close() }

// Current is the version the fleet is told to serve, as a publisher read
// it. Rev is the current key's mod revision.
type Current = configsource.Current

var _ configsource.Publisher = (*Publisher)(nil)

// Current reads the current version.
func (p *Publisher) Current(ctx context.Context) (Current, error) {
	ptr, err := p.st.Current(ctx)
	if err != nil {
		return Current{}, err
	}
	// A current that holds no number is replaced like any other.
	return Current{Version: ptr.Version, Rev: ptr.Rev}, nil
}

// Read reads version n, checked against its manifest.
func (p *Publisher) Read(ctx context.Context, n int64) (configsource.Version, error) {
	return p.st.Version(ctx, n)
}

// Key is the key of file name of version n, as errors name it.
func (p *Publisher) Key(n int64, name string) string { return p.st.FileKey(n, name) }

// ErrConflict is returned by Publish when current changed since from was
// read: another publisher was first.
// It is a configsource.ErrConflict.
var ErrConflict = fmt.Errorf("etcd: %w; nothing was written", configsource.ErrConflict)

// Publish writes files as a new version and makes it current, in one
// transaction that holds only if current is still from. It returns the
// new version's number. by says who published, for the manifest.
func (p *Publisher) Publish(ctx context.Context, files map[string][]byte, from Current, by string) (int64, error) {
	if err := configsource.CheckPublishable(files, maxFiles, p.st.maxBytes, maxBytesSetting); err != nil {
		return 0, fmt.Errorf("etcd: %w", err)
	}
	n, err := p.next(ctx, from)
	if err != nil {
		return 0, err
	}
	m := configsource.NewManifest(n, files, by)
	ops := make([]clientv3.Op, 0, len(files)+2)
	for _, f := range m.Files {
		ops = append(ops, clientv3.OpPut(p.st.FileKey(n, f.Name), string(files[f.Name])))
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return 0, err
	}
	ops = append(ops, clientv3.OpPut(p.st.ManifestKey(n), string(mb)),
		clientv3.OpPut(p.st.CurrentKey(), strconv.FormatInt(n, 10)))
	rctx, cancel := context.WithTimeout(ctx, p.st.timeout)
	defer cancel()
	resp, err := p.st.cli.Txn(rctx).If(
		clientv3.Compare(clientv3.ModRevision(p.st.CurrentKey()), "=", from.Rev),
		clientv3.Compare(clientv3.CreateRevision(p.st.ManifestKey(n)), "=", 0),
	).Then(ops...).Commit()
	if err != nil {
		return 0, fmt.Errorf("etcd: publish version %d: %w", n, err)
	}
	if !resp.Succeeded {
		return 0, ErrConflict
	}
	return n, nil
}

// next is the number of the version after every one written so far.
func (p *Publisher) next(ctx context.Context, from Current) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, p.st.timeout)
	defer cancel()
	dir := p.st.Prefix + "versions/"
	resp, err := p.st.cli.Get(rctx, dir, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return 0, fmt.Errorf("etcd: list %s: %w", dir, err)
	}
	keys := make([]string, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		keys[i] = string(kv.Key)
	}
	return configsource.NextNumber(dir, keys, from.Version), nil
}
