package etcd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fastgate/gateway/discovery"
)

// errCompacted ends a watch whose next revision etcd has compacted away.
var errCompacted = errors.New("etcd: watch revision compacted")

// follower is the state of one Watch: the service's keys and the last
// list sent.
type follower struct {
	w    *Watcher
	dir  string // <prefix><service>/
	send func(discovery.Update)

	keys   map[string]discovery.Endpoint // valid instance keys
	rev    int64                         // last revision seen
	listed bool                          // this round's listing succeeded
	prev   []discovery.Endpoint
	known  bool
}

// round lists the service, then watches it from the next revision until
// something goes wrong; it returns why (never nil unless ctx ended).
func (f *follower) round(ctx context.Context) error {
	f.listed = false
	cli, err := f.w.client()
	if err != nil {
		return err
	}
	if err := f.list(ctx, cli); err != nil {
		return err
	}
	f.listed = true
	return f.watch(ctx, cli)
}

// list reads every key of the service and sends the list.
func (f *follower) list(ctx context.Context, cli *clientv3.Client) error {
	rctx, cancel := context.WithTimeout(ctx, f.w.requestTimeout)
	defer cancel()
	resp, err := cli.Get(rctx, f.dir, clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("etcd: list %s: %w", f.dir, err)
	}
	f.keys = make(map[string]discovery.Endpoint, len(resp.Kvs))
	invalid := 0
	for _, kv := range resp.Kvs {
		if ep, err := parseValue(kv.Value); err == nil {
			f.keys[string(kv.Key)] = ep
		} else {
			invalid++
		}
	}
	f.rev = resp.Header.Revision
	f.emit(invalid)
	return nil
}

// watch follows the service's keys from the revision after the listing.
// A quiet watch asks etcd for a progress notice every ProgressInterval;
// one left unanswered for RequestTimeout means etcd is gone (a watch
// would otherwise wait, reconnecting, without a word).
func (f *follower) watch(ctx context.Context, cli *clientv3.Client) error {
	// Watches with the same metadata share one gRPC stream, and a
	// progress request is answered on every watch of its stream: the
	// request must carry the watch's metadata (require-leader).
	leader := clientv3.WithRequireLeader(ctx)
	wctx, cancel := context.WithCancel(leader)
	defer cancel()
	// Watch itself waits until the client has a watch stream, which takes
	// a server: if etcd went away since the listing, give up after
	// RequestTimeout instead of waiting without a word.
	stuck := time.AfterFunc(f.w.requestTimeout, cancel)
	wch := cli.Watch(wctx, f.dir, clientv3.WithPrefix(), clientv3.WithRev(f.rev+1))
	if !stuck.Stop() {
		return fmt.Errorf("etcd: watch %s not started within %v", f.dir, f.w.requestTimeout)
	}

	timer := time.NewTimer(f.w.progressInterval)
	defer timer.Stop()
	var asked bool // a progress request is unanswered
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case resp, ok := <-wch:
			if !ok {
				return errors.New("etcd: watch ended")
			}
			if resp.CompactRevision != 0 {
				return errCompacted
			}
			if err := resp.Err(); err != nil {
				return fmt.Errorf("etcd: watch %s: %w", f.dir, err)
			}
			if resp.Canceled {
				return fmt.Errorf("etcd: watch %s canceled", f.dir)
			}
			if rev := resp.Header.Revision; rev != 0 && rev < f.rev {
				return fmt.Errorf("etcd: revision went back from %d to %d (a restored or new cluster)", f.rev, rev)
			}
			asked = false
			timer.Reset(f.w.progressInterval)
			f.apply(resp)
		case <-timer.C:
			if asked {
				return fmt.Errorf("etcd: no progress notice within %v", f.w.requestTimeout)
			}
			pctx, pcancel := context.WithTimeout(leader, f.w.requestTimeout)
			err := cli.RequestProgress(pctx)
			pcancel()
			if err != nil {
				return fmt.Errorf("etcd: progress request: %w", err)
			}
			asked = true
			timer.Reset(f.w.requestTimeout)
		}
	}
}

// apply takes one watch response (events, or a progress notice) and
// sends the result.
func (f *follower) apply(resp clientv3.WatchResponse) {
	f.rev = max(f.rev, resp.Header.Revision)
	invalid := 0
	for _, ev := range resp.Events {
		k := string(ev.Kv.Key)
		if ev.Type == clientv3.EventTypeDelete {
			delete(f.keys, k)
			continue
		}
		// A value that no longer reads as an instance takes the key's
		// instance out.
		if ep, err := parseValue(ev.Kv.Value); err == nil {
			f.keys[k] = ep
		} else {
			delete(f.keys, k)
			invalid++
		}
	}
	f.emit(invalid)
}

// emit sends the current list, marked changed when it differs from the
// last one sent.
func (f *follower) emit(invalid int) {
	keys := slices.Sorted(maps.Keys(f.keys)) // the same key wins a duplicate address every time
	eps := make([]discovery.Endpoint, 0, len(keys))
	for _, k := range keys {
		eps = append(eps, f.keys[k])
	}
	eps = discovery.SortEndpoints(eps)
	u := discovery.Update{Invalid: invalid}
	if !f.known || !discovery.EqualEndpoints(f.prev, eps) {
		u.Changed, u.Endpoints = true, eps
		f.prev, f.known = slices.Clone(eps), true
	}
	f.send(u)
}
