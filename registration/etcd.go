package registration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// Defaults of EtcdSettings' zero values.
const (
	DefaultEtcdEndpoint     = "127.0.0.1:2379"
	DefaultPrefix           = "/services/"
	DefaultTTL              = 10 * time.Second
	DefaultDialTimeout      = 5 * time.Second
	DefaultProgressInterval = 5 * time.Second
)

// EtcdSettings say how to reach an etcd cluster and where to register.
// Every zero value has a meaning.
type EtcdSettings struct {
	// Endpoints are the members' client addresses. Empty means
	// DefaultEtcdEndpoint.
	Endpoints []string
	// Prefix is where services register: the instance's key is
	// <prefix><service>/<id>, the layout discovery's etcd watcher reads.
	// A missing final "/" is added; "" means DefaultPrefix ("/services/").
	Prefix string
	// Username and Password log in to an etcd with authentication on.
	// Empty means none.
	Username, Password string
	// DialTimeout bounds connecting; 0 means DefaultDialTimeout (5s).
	DialTimeout time.Duration
	// TTL is the lease's: how long the key of an instance that stopped
	// renewing it (crashed, cut off) stays. etcd rounds it up to whole
	// seconds. 0 means DefaultTTL (10s).
	TTL time.Duration
	// RequestTimeout bounds each request, and how long a progress
	// request of the count's watch may go unanswered; 0 means
	// DefaultRequestTimeout (5s).
	RequestTimeout time.Duration
	// ProgressInterval is how long the count's watch may hear nothing
	// before it asks etcd for a progress notice (the check that etcd is
	// still there); 0 means DefaultProgressInterval (5s).
	ProgressInterval time.Duration
}

// etcdValue is the instance's value: the JSON object discovery's etcd
// watcher reads ({"address", "port", "metadata"}).
type etcdValue struct {
	Address  string            `json:"address"`
	Port     int               `json:"port"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// etcdBackend writes the instance's key under a lease it keeps alive,
// and counts the keys under the service's prefix with a watch.
type etcdBackend struct {
	cfg      clientv3.Config
	dir      string // <prefix><service>/
	key      string // dir + id
	value    string
	ttl      int64 // seconds
	timeout  time.Duration
	progress time.Duration

	mu     sync.Mutex
	cli    *clientv3.Client
	lease  clientv3.LeaseID // the lease of the last registration; 0 for none
	closed bool
}

func newEtcd(in Instance, s EtcdSettings) (*etcdBackend, error) {
	eps := s.Endpoints
	if len(eps) == 0 {
		eps = []string{DefaultEtcdEndpoint}
	}
	for _, ep := range eps {
		if strings.TrimSpace(ep) == "" {
			return nil, errors.New("registration: etcd: an empty endpoint")
		}
	}
	if (s.Username == "") != (s.Password == "") {
		return nil, errors.New("registration: etcd: set both username and password, or neither")
	}
	prefix := s.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	v, err := json.Marshal(etcdValue{Address: in.Address, Port: in.Port, Metadata: in.Meta})
	if err != nil {
		return nil, err
	}
	ttl := positive(s.TTL, DefaultTTL)
	dial := positive(s.DialTimeout, DefaultDialTimeout)
	dir := prefix + in.Service + "/"
	return &etcdBackend{
		cfg: clientv3.Config{
			Endpoints:   append([]string(nil), eps...),
			DialTimeout: dial,
			Username:    s.Username,
			Password:    s.Password,
			// Failures reach the Registration as errors (logged once
			// per outage); the client's own lines would repeat them.
			Logger: zap.NewNop(),
			DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
				MinConnectTimeout: dial,
			})},
		},
		dir:      dir,
		key:      dir + in.ID,
		value:    string(v),
		ttl:      max(1, int64((ttl+time.Second-1)/time.Second)),
		timeout:  positive(s.RequestTimeout, DefaultRequestTimeout),
		progress: positive(s.ProgressInterval, DefaultProgressInterval),
	}, nil
}

func (e *etcdBackend) name() string { return "etcd" }

// client returns the etcd client, connecting on first use.
func (e *etcdBackend) client() (*clientv3.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("etcd: registration closed")
	}
	if e.cli == nil {
		cli, err := clientv3.New(e.cfg)
		if err != nil {
			return nil, fmt.Errorf("etcd: connect to %v: %w", e.cfg.Endpoints, err)
		}
		e.cli = cli
	}
	return e.cli, nil
}

// register writes the key under a new lease, after revoking the lease
// of an earlier registration (its key may linger otherwise).
func (e *etcdBackend) register(ctx context.Context) error {
	cli, err := e.client()
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	if old := e.swapLease(0); old != 0 {
		_, _ = cli.Revoke(rctx, old) // gone already, most likely
	}
	lease, err := cli.Grant(rctx, e.ttl)
	if err != nil {
		return fmt.Errorf("etcd: register %s: lease: %w", e.key, err)
	}
	if _, err := cli.Put(rctx, e.key, e.value, clientv3.WithLease(lease.ID)); err != nil {
		_, _ = cli.Revoke(context.WithoutCancel(rctx), lease.ID)
		return fmt.Errorf("etcd: register %s: %w", e.key, err)
	}
	e.swapLease(lease.ID)
	return nil
}

func (e *etcdBackend) swapLease(id clientv3.LeaseID) clientv3.LeaseID {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.lease
	e.lease = id
	return old
}

// hold keeps the lease alive until ctx ends, the lease is lost (it ran
// out while etcd could not be reached, or was revoked) or again says the
// key was deleted.
func (e *etcdBackend) hold(ctx context.Context, again <-chan struct{}) error {
	cli, err := e.client()
	if err != nil {
		return err
	}
	e.mu.Lock()
	lease := e.lease
	e.mu.Unlock()
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := cli.KeepAlive(kctx, lease)
	if err != nil {
		return fmt.Errorf("etcd: keep lease of %s alive: %w", e.key, err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-again:
			return errors.New("etcd: the instance's key was deleted")
		case _, ok := <-ch:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("etcd: lease of %s lost (expired or revoked)", e.key)
			}
		}
	}
}

// An etcd registration is a lease the keeper watches itself.
func (e *etcdBackend) reregisterAfterOutage() bool { return false }

// deregister revokes the lease: the key goes at once.
func (e *etcdBackend) deregister(ctx context.Context) error {
	lease := e.swapLease(0)
	if lease == 0 {
		return nil
	}
	cli, err := e.client()
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	if _, err := cli.Revoke(rctx, lease); err != nil {
		return fmt.Errorf("etcd: deregister %s: %w", e.key, err)
	}
	return nil
}

// follow lists the keys under the service's prefix, then watches them
// from the next revision, calling set with the number of keys after the
// listing and after each batch of events. A quiet watch asks for a
// progress notice every ProgressInterval, and one unanswered for
// RequestTimeout ends it as a failure.
func (e *etcdBackend) follow(ctx context.Context, set func(int, bool)) error {
	cli, err := e.client()
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, e.timeout)
	resp, err := cli.Get(rctx, e.dir, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	cancel()
	if err != nil {
		return fmt.Errorf("etcd: count %s: %w", e.dir, err)
	}
	keys := make(map[string]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		keys[string(kv.Key)] = true
	}
	rev := resp.Header.Revision
	set(len(keys), false)

	leader := clientv3.WithRequireLeader(ctx)
	wctx, stop := context.WithCancel(leader)
	defer stop()
	stuck := time.AfterFunc(e.timeout, stop)
	wch := cli.Watch(wctx, e.dir, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	if !stuck.Stop() {
		return fmt.Errorf("etcd: watch %s not started within %v", e.dir, e.timeout)
	}
	timer := time.NewTimer(e.progress)
	defer timer.Stop()
	asked := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case w, ok := <-wch:
			if !ok {
				return errors.New("etcd: watch ended")
			}
			if w.CompactRevision != 0 {
				return fmt.Errorf("etcd: watch %s: revision %d compacted", e.dir, w.CompactRevision)
			}
			if err := w.Err(); err != nil {
				return fmt.Errorf("etcd: watch %s: %w", e.dir, err)
			}
			if w.Canceled {
				return fmt.Errorf("etcd: watch %s canceled", e.dir)
			}
			if r := w.Header.Revision; r != 0 && r < rev {
				return fmt.Errorf("etcd: revision went back from %d to %d (a restored or new cluster)", rev, r)
			}
			rev = max(rev, w.Header.Revision)
			gone := false
			for _, ev := range w.Events {
				k := string(ev.Kv.Key)
				if ev.Type == clientv3.EventTypeDelete {
					delete(keys, k)
					gone = gone || k == e.key
				} else {
					keys[k] = true
					gone = gone && k != e.key
				}
			}
			asked = false
			timer.Reset(e.progress)
			set(len(keys), gone)
		case <-timer.C:
			if asked {
				return fmt.Errorf("etcd: no progress notice within %v", e.timeout)
			}
			pctx, pcancel := context.WithTimeout(leader, e.timeout)
			err := cli.RequestProgress(pctx)
			pcancel()
			if err != nil {
				return fmt.Errorf("etcd: progress request: %w", err)
			}
			asked = true
			timer.Reset(e.timeout)
		}
	}
}

func (e *etcdBackend) close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	if e.cli == nil {
		return nil
	}
	err := e.cli.Close()
	e.cli = nil
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
