package etcd

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/internal/etcdtest"
)

// A compaction of the revisions a Source's watch still had to read ends
// the watch; the Source reads current again (one key, no re-list) and
// applies nothing when it names the version serving, or the new one.
func TestSourceSurvivesCompaction(t *testing.T) {
	tests := []struct {
		desc        string
		publishNext bool // a version is published while the Source is held
		wantApplied int
		wantBody    string
	}{
		{desc: "current unchanged: nothing applied", wantApplied: 1, wantBody: "one"},
		{desc: "a version published meanwhile is applied", publishNext: true, wantApplied: 2, wantBody: "two"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e := etcdtest.Start(t)
			prefix := "/fleet/"
			cli := etcdtest.Client(t, e.Endpoint())
			pub := newPublisher(t, e.Endpoint(), prefix)
			publish(t, pub, hello("one"))

			paused, resume := make(chan struct{}), make(chan struct{})
			first := true
			target := &recTarget{Hold: func(*config.Config) {
				if first { // only the Source's goroutine calls Apply
					first = false
					close(paused)
					<-resume
				}
			}}
			src := startSource(t, e.Endpoint(), prefix, target, "")
			<-paused
			// Between the read of current and its watch.
			if tt.publishNext {
				publish(t, pub, hello("two"))
			}
			var rev int64
			for range 5 {
				rev = put(t, cli, prefix+"unrelated", "x")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
				t.Fatal(err)
			}
			close(resume)

			eventually(t, 5*time.Second, "the compaction met", func() bool { return src.compactions.Load() > 0 })
			eventually(t, within, "the version current names", func() bool { return target.LastBody() == tt.wantBody })
			if a, r := target.Counts(); a != tt.wantApplied || r != 0 {
				t.Errorf("%d applied, %d refused; want %d and 0", a, r, tt.wantApplied)
			}
			// It follows on after it.
			publish(t, pub, hello("three"))
			eventually(t, within, "a version after the compaction", func() bool { return target.LastBody() == "three" })
		})
	}
}

// An etcd restart: the Source reports etcd gone, keeps what serves,
// applies nothing when etcd is back with the same version, and follows
// the next one.
func TestSourceSurvivesEtcdRestart(t *testing.T) {
	e := etcdtest.Start(t)
	prefix := "/fleet/"
	pub := newPublisher(t, e.Endpoint(), prefix)
	publish(t, pub, hello("one"))
	target := &recTarget{}
	src := startSource(t, e.Endpoint(), prefix, target, "")
	eventually(t, within, "version 1 applied", func() bool { return target.LastBody() == "one" })

	e.Stop()
	eventually(t, 5*time.Second, "etcd reported gone", func() bool { return !src.Status().Reachable })
	e.Start()
	eventually(t, 10*time.Second, "etcd reported back", func() bool { return src.Status().Reachable })
	if a, _ := target.Counts(); a != 1 {
		t.Errorf("%d versions applied across the restart; want the one", a)
	}
	publish(t, pub, hello("two"))
	eventually(t, 5*time.Second, "a version after the restart", func() bool { return target.LastBody() == "two" })
}

// Publish holds only if current is what the publisher read: a second
// publisher that started from the same version is refused, and writes
// nothing.
func TestPublishCompareAndSwap(t *testing.T) {
	endpoint, prefix, cli := etcdtest.Shared(t)
	a, b := newPublisher(t, endpoint, prefix), newPublisher(t, endpoint, prefix)
	publish(t, a, hello("one"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fromA, err := a.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fromB, err := b.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nB, err := b.Publish(ctx, hello("b"), fromB, "b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, hello("a"), fromA, "a"); !errors.Is(err, ErrConflict) {
		t.Fatalf("the second publisher: %v; want ErrConflict", err)
	}
	cur, err := a.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Version != nB {
		t.Errorf("current is %d; want %d, the first publisher's", cur.Version, nB)
	}
	resp, err := cli.Get(ctx, prefix+"versions/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	// Two versions of one file and a manifest each.
	if len(resp.Kvs) != 4 {
		t.Errorf("%d keys under versions/; want 4 (the refused publication wrote some)", len(resp.Kvs))
	}
	v, err := a.Read(ctx, nB)
	if err != nil || string(v.Files["gateway.yaml"]) != string(hello("b")["gateway.yaml"]) {
		t.Errorf("Read(%d) = %v, %v", nB, v, err)
	}
}
