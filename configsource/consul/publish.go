package consul

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hashicorp/consul/api"

	"github.com/fastgate/gateway/configsource"
)

// Publisher writes versions under a prefix and makes them current. Safe
// for concurrent use.
type Publisher struct {
	st *store
}

var _ configsource.Publisher = (*Publisher)(nil)

// NewPublisher returns a Publisher; it contacts Consul on first use.
func NewPublisher(c Conn) (*Publisher, error) {
	st, err := c.dial()
	if err != nil {
		return nil, err
	}
	return &Publisher{st: st}, nil
}

// Close drops the idle connections.
func (p *Publisher) Close() error {
	p.st.close()
	return nil
}

// Current reads the pointer. Rev is its ModifyIndex, what the flip to
// the next version is checked against.
func (p *Publisher) Current(ctx context.Context) (configsource.Current, error) {
	ptr, err := p.st.Current(ctx)
	if err != nil {
		return configsource.Current{}, err
	}
	// A pointer that holds no number is replaced like any other.
	return configsource.Current{Version: ptr.Version, Rev: ptr.Rev}, nil
}

// Read reads version n, checked against its manifest.
func (p *Publisher) Read(ctx context.Context, n int64) (configsource.Version, error) {
	return p.st.Version(ctx, n)
}

// Key is the key of file name of version n, as errors name it.
func (p *Publisher) Key(n int64, name string) string { return p.st.FileKey(n, name) }

// ErrConflict is returned by Publish when the pointer changed since from
// was read, or another publisher is writing the same version number. It
// is a configsource.ErrConflict.
var ErrConflict = fmt.Errorf("consul: %w; nothing was made current", configsource.ErrConflict)

// Publish writes files as a new version and makes it current. The
// version's keys are written first, each created only if it does not
// exist (?cas=0: a version is never changed once written), its manifest
// last; then the pointer is flipped with ?cas=<its ModifyIndex as from
// read it>, which Consul refuses (false) when another publisher flipped
// it meanwhile. Instances read only the version the pointer names, and
// check it against its manifest, so they never see half of one.
func (p *Publisher) Publish(ctx context.Context, files map[string][]byte, from configsource.Current, by string) (int64, error) {
	if err := configsource.CheckPublishable(files, maxFiles, p.st.maxBytes, maxBytesSetting); err != nil {
		return 0, fmt.Errorf("consul: %w", err)
	}
	n, err := p.next(ctx, from)
	if err != nil {
		return 0, err
	}
	m := configsource.NewManifest(n, files, by)
	mb, err := json.Marshal(m)
	if err != nil {
		return 0, err
	}
	for _, f := range m.Files {
		if err := p.create(ctx, p.st.FileKey(n, f.Name), files[f.Name]); err != nil {
			return 0, err
		}
	}
	if err := p.create(ctx, p.st.ManifestKey(n), mb); err != nil {
		return 0, err
	}
	ok, err := p.cas(ctx, p.st.CurrentKey(), []byte(strconv.FormatInt(n, 10)), uint64(from.Rev))
	if err != nil {
		return 0, fmt.Errorf("consul: make version %d current: %w", n, err)
	}
	if !ok {
		// Version n is complete but never current: drop it.
		wctx, cancel := context.WithTimeout(ctx, p.st.timeout)
		defer cancel()
		_, _ = p.st.kv.DeleteTree(p.st.VersionDir(n), (&api.WriteOptions{Datacenter: p.st.dc}).WithContext(wctx))
		return 0, ErrConflict
	}
	return n, nil
}

// create writes key only if it does not exist yet.
func (p *Publisher) create(ctx context.Context, key string, b []byte) error {
	ok, err := p.cas(ctx, key, b, 0)
	if err != nil {
		return fmt.Errorf("consul: write %s: %w", key, err)
	}
	if !ok {
		return fmt.Errorf("%w (%s exists: another publisher is writing that version)", ErrConflict, key)
	}
	return nil
}

// cas writes key if its ModifyIndex is index (0: if it does not exist).
func (p *Publisher) cas(ctx context.Context, key string, b []byte, index uint64) (bool, error) {
	wctx, cancel := context.WithTimeout(ctx, p.st.timeout)
	defer cancel()
	ok, _, err := p.st.kv.CAS(&api.KVPair{Key: key, Value: b, ModifyIndex: index}, (&api.WriteOptions{Datacenter: p.st.dc}).WithContext(wctx))
	return ok, err
}

// next is the number of the version after every one written so far.
func (p *Publisher) next(ctx context.Context, from configsource.Current) (int64, error) {
	dir := p.st.Prefix + "versions/"
	q, cancel := p.st.query(ctx, 0, 0)
	defer cancel()
	keys, _, err := p.st.kv.Keys(dir, "", q)
	if err != nil {
		return 0, failed(ctx, "list "+dir, err)
	}
	return configsource.NextNumber(dir, keys, from.Version), nil
}
