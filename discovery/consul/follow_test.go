package consul

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/discovery/discoverytest"
)

// The bar: a change in Consul reaches the gateway's Set within a
// second.
const within = time.Second

func waitSet(t *testing.T, sub *discovery.Subscription, what string, want ...string) {
	t.Helper()
	eventually(t, within, what, func() bool { return slices.Equal(discoverytest.Addrs(sub.Set()), want) })
}

// TestFollowChanges: instances added, removed, failing and recovering
// show in the Set within a second, with the wait far longer than that.
func TestFollowChanges(t *testing.T) {
	f := newFakeConsul(t)
	s := testSettings(f)
	s.WaitTime = time.Minute
	r := newTestRegistry(t, newTestWatcher(t, s))
	sub, err := r.Subscribe("consul", "users", discovery.HealthSettings{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	select {
	case <-sub.Ready():
	case <-time.After(within):
		t.Fatal("no first list")
	}
	waitSet(t, sub, "first list", users1, users2)
	if in := sub.Set().Lookup(users1); in.Meta["version"] != "1.4.2" || in.Weight != 1 {
		t.Errorf("users-1: %+v", in.Endpoint)
	}

	f.register("users-3", 18083)
	waitSet(t, sub, "users-3 registered", users1, users2, users3)
	f.deregister("users-1")
	waitSet(t, sub, "users-1 deregistered", users2, users3)
	f.setCheck("users-2", "critical")
	waitSet(t, sub, "users-2 failing its check", users3)
	f.setCheck("users-2", "passing")
	waitSet(t, sub, "users-2 passing again", users2, users3)

	st := discoverytest.Status(t, r, "users")
	if st.Errors != 0 || st.Updates != 5 || st.Instances != 2 || st.LastSync.IsZero() {
		t.Errorf("status %+v", st)
	}
	if n := len(f.log("users")); n > 12 {
		t.Errorf("%d queries for 5 changes", n)
	}
}

// TestRegistryDown: Consul stopped, answering 500s or hanging: the last
// instances stay and errors are counted; Consul back: changes are
// followed again, without a restart.
func TestRegistryDown(t *testing.T) {
	tests := []struct {
		desc string
		down func(f *fakeConsul)
		up   func(f *fakeConsul)
	}{
		{desc: "stopped", down: (*fakeConsul).stop, up: (*fakeConsul).start},
		{desc: "500s", down: func(f *fakeConsul) { f.setMode("500") }, up: func(f *fakeConsul) { f.setMode("") }},
		{desc: "hanging", down: func(f *fakeConsul) { f.setMode("hang") }, up: func(f *fakeConsul) { f.setMode("") }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f := newFakeConsul(t)
			s := testSettings(f)
			s.WaitTime = 200 * time.Millisecond // a hang shows after 200ms + 1/16 + 300ms
			r := newTestRegistry(t, newTestWatcher(t, s))
			sub, err := r.Subscribe("consul", "users", discovery.HealthSettings{})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			waitSet(t, sub, "first list", users1, users2)

			tt.down(f)
			eventually(t, 10*time.Second, "errors counted", func() bool { return discoverytest.Status(t, r, "users").Errors >= 2 })
			if got := discoverytest.Addrs(sub.Set()); !slices.Equal(got, []string{users1, users2}) {
				t.Fatalf("set %v while Consul is down", got)
			}
			st := discoverytest.Status(t, r, "users")
			if st.LastError == "" || !st.LastErrorAt.After(st.LastSync) {
				t.Errorf("status %+v", st)
			}

			tt.up(f)
			f.deregister("users-2")
			// Backoff is at most 50ms here: well within the second.
			waitSet(t, sub, "change after Consul came back", users1)
		})
	}
}

// TestIndexRules: Consul's rules for a blocking-query client.
func TestIndexRules(t *testing.T) {
	tests := []struct {
		desc string
		give uint64   // users' index is moved to this
		want []string // index parameters of the queries that follow; "" none
	}{
		{desc: "index went backwards: read at once, then block on it", give: 5, want: []string{"", "5", "5"}},
		{desc: "index 0: read at once, then block on 1", give: 0, want: []string{"", "1", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f := newFakeConsul(t)
			s := testSettings(f)
			s.WaitTime = 200 * time.Millisecond
			s.MinInterval = time.Millisecond
			rec := startWatch(t, newTestWatcher(t, s), "users")
			eventually(t, 10*time.Second, "blocking on 21", func() bool { return len(f.log("users")) >= 2 })

			start := time.Now()
			f.setIndex(tt.give)
			// The query blocked on 21 returns when its wait runs out,
			// carrying the lower index (as Consul does, see recording 13).
			var got []string
			eventually(t, 10*time.Second, "the queries after the new index", func() bool {
				got = got[:0]
				for _, r := range f.log("users") {
					if r.at.After(start) && (len(got) > 0 || r.query.Get("index") != "21") {
						got = append(got, r.query.Get("index"))
					}
				}
				return len(got) >= len(tt.want)
			})
			if !slices.Equal(got[:len(tt.want)], tt.want) {
				t.Errorf("index parameters after index %d: %q, want %q", tt.give, got, tt.want)
			}
			// Nothing changes any more: every blocking query waits its
			// whole 200ms, so the loop cannot spin.
			time.Sleep(400 * time.Millisecond)
			n := 0
			for _, r := range f.log("users") {
				if r.at.After(start) {
					n++
				}
			}
			if limit := int(2*time.Since(start)/s.WaitTime) + 4; n > limit {
				t.Errorf("%d queries in %v: the loop spins", n, time.Since(start))
			}
			for _, u := range rec.all() {
				if u.Err != nil {
					t.Errorf("error %v", u.Err)
				}
			}
		})
	}
}

// TestRateCap: a service that changes without pause costs at most one
// query per MinInterval, and the last state still arrives.
func TestRateCap(t *testing.T) {
	f := newFakeConsul(t)
	s := testSettings(f)
	s.MinInterval = 100 * time.Millisecond
	rec := startWatch(t, newTestWatcher(t, s), "users")
	eventually(t, 10*time.Second, "first list", func() bool { _, ok := rec.lastList(); return ok })

	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 250 { // 500ms of churn, every 2ms
			f.setCheck("users-2", []string{"critical", "passing"}[i%2])
			time.Sleep(2 * time.Millisecond)
		}
		f.setCheck("users-2", "critical")
	})
	wg.Wait()
	churn := time.Since(start)
	eventually(t, within, "the final state", func() bool {
		eps, _ := rec.lastList()
		return slices.Equal(addrsOf(eps), []string{users1})
	})
	n := 0
	for _, r := range f.log("users") {
		if r.at.After(start) && r.at.Before(start.Add(churn)) {
			n++
		}
	}
	if limit := int(churn/s.MinInterval) + 2; n > limit {
		t.Errorf("%d queries during %v of churn, want at most %d", n, churn, limit)
	}
}

// TestOneWatchForManySubscribers: two hundred subscribers of a service
// cost one blocking query at a time, not two hundred.
func TestOneWatchForManySubscribers(t *testing.T) {
	f := newFakeConsul(t)
	s := testSettings(f)
	s.WaitTime = 200 * time.Millisecond
	r := newTestRegistry(t, newTestWatcher(t, s))
	subs := make([]*discovery.Subscription, 200)
	for i := range subs {
		sub, err := r.Subscribe("consul", "users", discovery.HealthSettings{MaxFailures: i % 3})
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = sub
	}
	for _, sub := range subs {
		waitSet(t, sub, "first list", users1, users2)
	}
	eventually(t, 10*time.Second, "a few blocking rounds", func() bool { return len(f.log("users")) >= 4 })
	f.deregister("users-1")
	for _, sub := range subs {
		waitSet(t, sub, "users-1 gone", users2)
	}
	if got := f.maxBlocking("users"); got != 1 {
		t.Errorf("%d blocking queries at once, want 1", got)
	}
	if n := len(f.log("users")); n > 10 {
		t.Errorf("%d queries, want a handful", n)
	}
	if st := discoverytest.Status(t, r, "users"); st.Subscribers != 200 {
		t.Errorf("subscribers %d", st.Subscribers)
	}
	for _, sub := range subs {
		_ = sub.Close()
	}
	if len(r.Status()) != 0 {
		t.Errorf("watch left after the last subscriber: %+v", r.Status())
	}
}
