package etcd

import (
	"bufio"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/discovery/discoverytest"
	"github.com/fastgate/gateway/internal/etcdtest"
)

// TestEtcdDown: etcd stopped: the last instances stay and errors are
// counted; etcd back: changes are followed again, without a restart.
func TestEtcdDown(t *testing.T) {
	e := etcdtest.Start(t)
	put(t, etcdtest.Client(t, e.Endpoint()), Key("", "users", "a"), Value{Address: "127.0.0.1", Port: 9001})
	r := newTestRegistry(t, newTestWatcher(t, testSettings(e.Endpoint(), "")))
	sub := subscribe(t, r, "users")
	waitSet(t, sub, "first list", "127.0.0.1:9001")

	e.Stop()
	// A quiet watch notices within ProgressInterval + RequestTimeout; the
	// bound leaves room for a machine busy with other tests. etcd may also
	// stop between the listing and the start of the watch.
	eventually(t, 10*time.Second, "errors counted", func() bool { return discoverytest.Status(t, r, "users").Errors >= 1 })
	if got := discoverytest.Addrs(sub.Set()); !slices.Equal(got, []string{"127.0.0.1:9001"}) {
		t.Fatalf("set %v while etcd is down", got)
	}
	st := discoverytest.Status(t, r, "users")
	if !st.LastErrorAt.After(st.LastSync) || st.LastError == "" {
		t.Errorf("status %+v", st)
	}

	e.Start()
	put(t, etcdtest.Client(t, e.Endpoint()), Key("", "users", "b"), Value{Address: "127.0.0.1", Port: 9002})
	// Reconnecting waits at most 2s (maxReconnectDelay).
	eventually(t, 10*time.Second, "b after etcd came back", func() bool {
		return slices.Equal(discoverytest.Addrs(sub.Set()), []string{"127.0.0.1:9001", "127.0.0.1:9002"})
	})
}

// TestLeaseExpiry: a service that stops renewing its lease (a crash)
// leaves the Set when etcd deletes its key.
func TestLeaseExpiry(t *testing.T) {
	e := etcdtest.Start(t)
	cli := etcdtest.Client(t, e.Endpoint())
	r := newTestRegistry(t, newTestWatcher(t, testSettings(e.Endpoint(), "")))
	sub := subscribe(t, r, "users")
	reg, err := Register(context.Background(), cli, Key("", "users", "a"), Value{Address: "127.0.0.1", Port: 9001}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	waitSet(t, sub, "registered", "127.0.0.1:9001")
	time.Sleep(1500 * time.Millisecond) // renewed past its TTL
	if sub.Set().Len() != 1 {
		t.Fatal("the key vanished while its lease was renewed")
	}
	reg.Stop()
	// The lease (1s, etcd's shortest here) runs out; etcd checks leases
	// every 500ms.
	eventually(t, 10*time.Second, "the crashed instance gone", func() bool { return sub.Set().Len() == 0 })
}

// TestCompaction: revisions a watcher still had to read are compacted
// away; the watcher lists again and ends with the right set.
func TestCompaction(t *testing.T) {
	tests := []struct {
		desc           string
		pauseAt        int // the update (1 = the first list, 2 = the watch's first progress notice) during which the test writes and compacts
		wantCompaction bool
	}{
		{desc: "behind before its watch starts", pauseAt: 1, wantCompaction: true},
		{desc: "paused mid-watch", pauseAt: 2},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e := etcdtest.Start(t)
			cli := etcdtest.Client(t, e.Endpoint())
			put(t, cli, Key("", "users", "a"), Value{Address: "127.0.0.1", Port: 9001})
			w := newTestWatcher(t, testSettings(e.Endpoint(), ""))

			var mu sync.Mutex
			var lists [][]string
			var errs []error
			paused, resume := make(chan struct{}), make(chan struct{})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				n := 0
				_ = w.Watch(ctx, "users", func(u discovery.Update) {
					mu.Lock()
					if u.Err != nil {
						errs = append(errs, u.Err)
					}
					if u.Changed {
						lists = append(lists, addrs(u.Endpoints))
					}
					n++
					mu.Unlock()
					if n == tt.pauseAt {
						close(paused)
						<-resume
					}
				})
			}()
			defer func() { cancel(); <-done }()

			select {
			case <-paused:
			case <-time.After(3 * time.Second):
				t.Fatal("the watcher never paused")
			}
			put(t, cli, Key("", "users", "b"), Value{Address: "127.0.0.1", Port: 9002})
			put(t, cli, Key("", "users", "a"), Value{Address: "127.0.0.1", Port: 9001, Weight: 4})
			del(t, cli, Key("", "users", "a"))
			rev := put(t, cli, Key("", "users", "c"), Value{Address: "127.0.0.1", Port: 9003})
			cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := cli.Compact(cctx, rev, clientv3.WithCompactPhysical())
			ccancel()
			if err != nil {
				t.Fatal(err)
			}
			close(resume)

			want := []string{"127.0.0.1:9002", "127.0.0.1:9003"}
			eventually(t, 10*time.Second, "the right set after the compaction", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(lists) > 0 && slices.Equal(lists[len(lists)-1], want)
			})
			mu.Lock()
			defer mu.Unlock()
			if len(errs) != 0 {
				t.Errorf("compaction reported as failure: %v", errs)
			}
			if tt.wantCompaction && w.compactions.Load() == 0 {
				t.Errorf("the watcher met no compaction")
			}
		})
	}
}

func addrs(eps []discovery.Endpoint) []string {
	out := []string{}
	for _, ep := range eps {
		out = append(out, ep.Addr)
	}
	return out
}

// TestServerSeesOneWatch: two hundred subscribers of one service and one
// of another are two watches on the etcd server, not two hundred and one.
func TestServerSeesOneWatch(t *testing.T) {
	e := etcdtest.Start(t)
	r := newTestRegistry(t, newTestWatcher(t, testSettings(e.Endpoint(), "")))
	for range 200 {
		subscribe(t, r, "users")
	}
	orders := subscribe(t, r, "orders")
	select {
	case <-orders.Ready():
	case <-time.After(within):
		t.Fatal("no answer")
	}
	eventually(t, 10*time.Second, "two watchers on the server", func() bool {
		return serverMetric(t, e.Endpoint(), "etcd_debugging_mvcc_watcher_total") == 2
	})
	time.Sleep(300 * time.Millisecond)
	if n := serverMetric(t, e.Endpoint(), "etcd_debugging_mvcc_watcher_total"); n != 2 {
		t.Errorf("%v watchers on the server, want 2", n)
	}
}

// serverMetric reads a gauge from the etcd server's /metrics.
func serverMetric(t *testing.T, endpoint, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s in the server's metrics", name)
	return 0
}
