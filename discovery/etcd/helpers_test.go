package etcd

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/discovery/discoverytest"
	"github.com/fastgate/gateway/internal/testwait"
)

// TestMain fails the package's tests if a goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testSettings are quick to notice an etcd that is gone: a quiet watch
// asks for progress after 200ms and gives up 300ms later.
func testSettings(endpoint, prefix string) Settings {
	return Settings{
		Endpoints:        []string{endpoint},
		Prefix:           prefix,
		DialTimeout:      time.Second,
		RequestTimeout:   300 * time.Millisecond,
		ProgressInterval: 200 * time.Millisecond,
		Backoff:          discovery.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond},
	}
}

func newTestWatcher(t *testing.T, s Settings) *Watcher {
	t.Helper()
	w, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func newTestRegistry(t *testing.T, w discovery.Watcher) *discovery.Registry {
	return discoverytest.Registry(t, "etcd", w)
}

func subscribe(t *testing.T, r *discovery.Registry, service string) *discovery.Subscription {
	t.Helper()
	sub, err := r.Subscribe("etcd", service, discovery.HealthSettings{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

// eventually waits until cond holds, for at most d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, d, what, cond)
}

// The bar: a change in etcd reaches the gateway's Set within a
// second.
const within = time.Second

func waitSet(t *testing.T, sub *discovery.Subscription, what string, want ...string) {
	t.Helper()
	eventually(t, within, what, func() bool { return slices.Equal(discoverytest.Addrs(sub.Set()), want) })
}

// put writes an instance value (or raw text) under key.
func put(t *testing.T, cli *clientv3.Client, key string, v any) int64 {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		s = string(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := cli.Put(ctx, key, s)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

func del(t *testing.T, cli *clientv3.Client, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := cli.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
}

// counting wraps a Watcher and counts its Watch calls.
type counting struct {
	discovery.Watcher
	mu              sync.Mutex
	running, maxRun int
}

func (c *counting) Watch(ctx context.Context, service string, send func(discovery.Update)) error {
	c.mu.Lock()
	c.running++
	c.maxRun = max(c.maxRun, c.running)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running--
		c.mu.Unlock()
	}()
	return c.Watcher.Watch(ctx, service, send)
}
