package jwks

import (
	"testing"
	"time"

	"github.com/fastgate/gateway/internal/testwait"
)

func startSource(t *testing.T, s Settings) *Source {
	t.Helper()
	src, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

func TestSourceKeepsLastGoodSetWhenTheEndpointFails(t *testing.T) {
	_, k1 := rsaJWK(t, "k1")
	for _, mode := range []string{"status", "garbage", "hang", "huge", "down"} {
		t.Run(mode, func(t *testing.T) {
			srv := newJWKSServer(t, k1)
			src := startSource(t, Settings{URL: srv.URL, Timeout: 300 * time.Millisecond, MinRefetchInterval: time.Millisecond})
			if err := src.Start(); err != nil {
				t.Fatalf("Start: %v", err)
			}
			good := src.Current()
			if good.Find("k1", true) == nil {
				t.Fatal("k1 not in the first set")
			}
			if mode == "down" {
				srv.CloseClientConnections()
				srv.Listener.Close()
			} else {
				srv.setMode(mode)
			}
			if !src.Refetch(time.Now().Add(time.Second)) {
				t.Fatal("Refetch did not fetch")
			}
			if src.Current() != good {
				t.Fatal("a failed fetch replaced the last good set")
			}
			st := src.Stats()
			if st.Failures != 1 || st.Successes != 1 || st.LastError == nil || st.Keys != 1 {
				t.Fatalf("Stats = %+v, want 1 success, 1 failure with its error, 1 key", st)
			}
			if good.Find("k1", true).Dropped() {
				t.Fatal("a failed fetch dropped k1")
			}
			if s := src.Staleness(st.LastSuccess.Add(time.Minute)); s != time.Minute {
				t.Fatalf("Staleness = %v, want 1m", s)
			}
		})
	}
}

func TestSourceWithoutGoodFirstFetchHasNoKeysAndRetries(t *testing.T) {
	_, k1 := rsaJWK(t, "k1")
	srv := newJWKSServer(t, k1)
	srv.setMode("garbage")
	src := startSource(t, Settings{URL: srv.URL, RetryInterval: time.Millisecond})
	if err := src.Start(); err == nil {
		t.Fatal("Start reported no error for a garbage key set")
	}
	if src.Current() != nil || src.Staleness(time.Now()) != -1 {
		t.Fatal("a source without a good fetch has keys or a staleness")
	}
	srv.serve(t, k1)
	waitFor(t, "the background retry to fetch the keys", func() bool { return src.Current() != nil })
}

func TestSourceRotationCarriesKeptKeysAndDropsRemovedOnes(t *testing.T) {
	_, k1 := rsaJWK(t, "k1")
	_, k2 := ecJWK(t, "k2")
	srv := newJWKSServer(t, k1)
	src := startSource(t, Settings{URL: srv.URL, MinRefetchInterval: time.Millisecond})
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	first := src.Current().Find("k1", true)

	srv.serve(t, k1, k2)
	now := time.Now()
	src.Refetch(now)
	if got := src.Current().Find("k1", true); got != first || got.Dropped() {
		t.Fatal("an unchanged key was not carried over as the same key")
	}
	if src.Current().Find("k2", true) == nil {
		t.Fatal("k2 missing after the refresh")
	}

	srv.serve(t, k2)
	src.Refetch(now.Add(time.Second))
	if !first.Dropped() {
		t.Fatal("k1 left the set but is not marked dropped")
	}
	if src.Current().Find("k1", true) != nil {
		t.Fatal("k1 still found")
	}
}

func TestRefetchAtMostOncePerInterval(t *testing.T) {
	_, k1 := rsaJWK(t, "k1")
	srv := newJWKSServer(t, k1)
	src := startSource(t, Settings{URL: srv.URL, MinRefetchInterval: 5 * time.Second})
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if !src.Refetch(now) {
		t.Fatal("the first refetch did not fetch")
	}
	for i := 0; i < 100; i++ {
		if src.Refetch(now.Add(time.Duration(i) * 40 * time.Millisecond)) {
			t.Fatalf("refetch %d within the interval fetched", i)
		}
	}
	if !src.Refetch(now.Add(5 * time.Second)) {
		t.Fatal("a refetch after the interval did not fetch")
	}
	if got := srv.hits.Load(); got != 3 {
		t.Fatalf("the endpoint saw %d fetches, want 3 (start and two refetches)", got)
	}
}

func TestBackgroundRefreshFollowsTheEndpoint(t *testing.T) {
	_, k1 := rsaJWK(t, "k1")
	_, k2 := rsaJWK(t, "k2")
	srv := newJWKSServer(t, k1)
	src := startSource(t, Settings{URL: srv.URL, RefreshInterval: 5 * time.Millisecond})
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	srv.serve(t, k2)
	waitFor(t, "the background refresh to pick up k2", func() bool { return src.Current().Find("k2", true) != nil })
}

func TestStaticSource(t *testing.T) {
	priv, _ := rsaJWK(t, "")
	k := &Key{Public: &priv.PublicKey}
	src := startSource(t, Settings{PublicKeys: []*Key{k}})
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	if src.Current().Find("", false) != k || src.Refetch(time.Now()) || src.Staleness(time.Now()) != 0 {
		t.Fatal("a static source should hold its key, never fetch, never be stale")
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	k := &Key{}
	for _, tt := range []struct {
		desc string
		give Settings
	}{
		{desc: "nothing", give: Settings{}},
		{desc: "both", give: Settings{URL: "http://127.0.0.1/", PublicKeys: []*Key{k}}},
		{desc: "not http", give: Settings{URL: "file:///etc/jwks.json"}},
		{desc: "no host", give: Settings{URL: "http:///jwks"}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if _, err := New(tt.give); err == nil {
				t.Fatal("New accepted the settings")
			}
		})
	}
}

func TestCloseBeforeStart(t *testing.T) {
	src, err := New(Settings{URL: "http://127.0.0.1:1/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Start(); err != nil {
		t.Fatal("Start after Close should do nothing")
	}
}

// waitFor waits until cond holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, 10*time.Second, what, cond)
}
