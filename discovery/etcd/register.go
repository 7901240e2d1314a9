package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Registration is an instance written to etcd under a lease that is kept
// alive while the registering service runs: when the service stops
// renewing it (it crashed, or lost etcd for longer than the lease), etcd
// deletes the key when the lease runs out.
type Registration struct {
	// Key is the instance's key.
	Key string
	// Lease is the lease the key is attached to.
	Lease clientv3.LeaseID

	cli    *clientv3.Client
	cancel context.CancelFunc
	done   chan struct{}
}

// Register writes v under key (see Key) attached to a new lease of ttl
// (etcd rounds it up to whole seconds, at least its own minimum) and
// renews the lease until Stop or Close, or until cli is closed. Services
// use it to announce themselves; the gateway only reads.
func Register(ctx context.Context, cli *clientv3.Client, key string, v Value, ttl time.Duration) (*Registration, error) {
	if _, err := v.Endpoint(); err != nil {
		return nil, fmt.Errorf("etcd: register %s: %w", key, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	secs := int64((ttl + time.Second - 1) / time.Second)
	lease, err := cli.Grant(ctx, max(secs, 1))
	if err != nil {
		return nil, fmt.Errorf("etcd: register %s: lease: %w", key, err)
	}
	if _, err := cli.Put(ctx, key, string(b), clientv3.WithLease(lease.ID)); err != nil {
		_, _ = cli.Revoke(context.WithoutCancel(ctx), lease.ID)
		return nil, fmt.Errorf("etcd: register %s: %w", key, err)
	}
	kctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ch, err := cli.KeepAlive(kctx, lease.ID)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("etcd: register %s: keep alive: %w", key, err)
	}
	r := &Registration{Key: key, Lease: lease.ID, cli: cli, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for range ch { // the channel closes when kctx ends or cli closes
		}
	}()
	return r, nil
}

// Stop stops renewing the lease, as a crash would: the key stays until
// the lease runs out.
func (r *Registration) Stop() {
	r.cancel()
	<-r.done
}

// Close stops renewing the lease and revokes it: the key goes now.
func (r *Registration) Close(ctx context.Context) error {
	r.Stop()
	_, err := r.cli.Revoke(ctx, r.Lease)
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		err = nil // the client was closed: the lease runs out on its own
	}
	return err
}
