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

// ErrCompacted ends a watch whose next revision etcd has compacted away
// (FollowWatch): what is watched must be read again.
var ErrCompacted = errors.New("etcd: watch revision compacted")

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
func (f *follower) watch(ctx context.Context, cli *clientv3.Client) error {
	return FollowWatch(ctx, cli, f.dir, f.rev, f.w.requestTimeout, f.w.progressInterval, func(resp clientv3.WatchResponse) error {
		if rev := resp.Header.Revision; rev != 0 && rev < f.rev {
			return fmt.Errorf("etcd: revision went back from %d to %d (a restored or new cluster)", f.rev, rev)
		}
		f.apply(resp)
		return nil
	}, clientv3.WithPrefix())
}

// FollowWatch watches key (with opts, such as clientv3.WithPrefix) from
// the revision after rev and hands each response, events or a progress
// notice, to apply, until ctx ends (ctx.Err()), apply fails (its error),
// etcd compacted the next revision away (ErrCompacted: read again and
// watch from there) or the watch fails. A quiet watch asks etcd for a
// progress notice every progress; one left unanswered for timeout means
// etcd is gone, as does a watch not started within timeout: a watch would
// otherwise wait, reconnecting, without a word.
func FollowWatch(ctx context.Context, cli *clientv3.Client, key string, rev int64, timeout, progress time.Duration,
	apply func(clientv3.WatchResponse) error, opts ...clientv3.OpOption) error {
	// Watches with the same metadata share one gRPC stream, and a
	// progress request is answered on every watch of its stream: the
	// request must carry the watch's metadata (require-leader).
	leader := clientv3.WithRequireLeader(ctx)
	wctx, cancel := context.WithCancel(leader)
	defer cancel()
	// Watch itself waits until the client has a watch stream, which takes
	// a server: if etcd went away since the last read, give up after
	// timeout instead of waiting without a word.
	stuck := time.AfterFunc(timeout, cancel)
	wch := cli.Watch(wctx, key, append(opts, clientv3.WithRev(rev+1))...)
	if !stuck.Stop() {
		return fmt.Errorf("etcd: watch %s not started within %v", key, timeout)
	}

	timer := time.NewTimer(progress)
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
				return ErrCompacted
			}
			if err := resp.Err(); err != nil {
				return fmt.Errorf("etcd: watch %s: %w", key, err)
			}
			if resp.Canceled {
				return fmt.Errorf("etcd: watch %s canceled", key)
			}
			asked = false
			timer.Reset(progress)
			if err := apply(resp); err != nil {
				return err
			}
		case <-timer.C:
			if asked {
				return fmt.Errorf("etcd: no progress notice within %v", timeout)
			}
			pctx, pcancel := context.WithTimeout(leader, timeout)
			err := cli.RequestProgress(pctx)
			pcancel()
			if err != nil {
				return fmt.Errorf("etcd: progress request: %w", err)
			}
			asked = true
			timer.Reset(timeout)
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
