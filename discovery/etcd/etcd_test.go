package etcd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/discovery/discoverytest"
	"github.com/fastgate/gateway/internal/etcdtest"
)

func TestParseValue(t *testing.T) {
	tests := []struct {
		desc    string
		give    string
		want    discovery.Endpoint
		wantErr string
	}{
		{
			desc: "documented example",
			give: `{"address": "10.0.0.5", "port": 8080, "weight": 1, "metadata": {"zone": "a", "version": "1.2"}}`,
			want: discovery.Endpoint{Addr: "10.0.0.5:8080", Weight: 1, Meta: map[string]string{"zone": "a", "version": "1.2"}},
		},
		{desc: "weight defaults to 1, unknown fields ignored", give: `{"address": "h.example", "port": 80, "id": "x"}`,
			want: discovery.Endpoint{Addr: "h.example:80", Weight: 1}},
		{desc: "IPv6", give: `{"address": "fd00::5", "port": 80, "weight": 3}`, want: discovery.Endpoint{Addr: "[fd00::5]:80", Weight: 3}},
		{desc: "IPv6 in brackets", give: `{"address": "[fd00::5]", "port": 80}`, want: discovery.Endpoint{Addr: "[fd00::5]:80", Weight: 1}},
		{desc: "not JSON", give: `10.0.0.5:8080`, wantErr: "not an instance value"},
		{desc: "trailing data", give: `{"address": "a", "port": 1} {}`, wantErr: "data after"},
		{desc: "no address", give: `{"port": 8080}`, wantErr: "no address"},
		{desc: "no port", give: `{"address": "10.0.0.5"}`, wantErr: "port 0"},
		{desc: "port too high", give: `{"address": "10.0.0.5", "port": 70000}`, wantErr: "port 70000"},
		{desc: "negative weight", give: `{"address": "10.0.0.5", "port": 1, "weight": -1}`, wantErr: "weight -1"},
		{desc: "port as a string", give: `{"address": "10.0.0.5", "port": "80"}`, wantErr: "not an instance value"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, err := parseValue([]byte(tt.give))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !discovery.EqualEndpoints([]discovery.Endpoint{got}, []discovery.Endpoint{tt.want}) {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		desc   string
		prefix string
		want   string
	}{
		{desc: "default prefix", prefix: "", want: "/services/users/users-1"},
		{desc: "prefix with slash", prefix: "/gw/", want: "/gw/users/users-1"},
		{desc: "slash added", prefix: "/gw", want: "/gw/users/users-1"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := Key(tt.prefix, "users", "users-1"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		desc       string
		give       Settings
		wantPrefix string
		wantErr    string
	}{
		{desc: "defaults", give: Settings{}, wantPrefix: "/services/"},
		{desc: "prefix", give: Settings{Prefix: "/gw"}, wantPrefix: "/gw/"},
		{desc: "empty endpoint", give: Settings{Endpoints: []string{" "}}, wantErr: "empty endpoint"},
		{desc: "username without password", give: Settings{Username: "gw"}, wantErr: "both username and password"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			w, err := New(tt.give)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if w.Prefix() != tt.wantPrefix {
				t.Errorf("prefix %q, want %q", w.Prefix(), tt.wantPrefix)
			}
		})
	}
}

func TestBadServiceName(t *testing.T) {
	w := newTestWatcher(t, Settings{})
	for _, name := range []string{"", "a/b"} {
		err := w.Watch(context.Background(), name, func(discovery.Update) { t.Error("sent an update") })
		if err == nil {
			t.Errorf("Watch(%q): no error", name)
		}
	}
}

// TestFollow: instances added, changed, removed, unreadable, and
// registered under a lease reach the Set within a second.
func TestFollow(t *testing.T) {
	endpoint, prefix, cli := etcdtest.Shared(t)
	put(t, cli, Key(prefix, "users", "a"), Value{Address: "127.0.0.1", Port: 9001, Metadata: map[string]string{"zone": "a", "version": "1.2"}})
	put(t, cli, Key(prefix, "users", "bad"), `{"address": `)
	put(t, cli, Key(prefix, "users-admin", "x"), Value{Address: "127.0.0.1", Port: 9999}) // another service
	put(t, cli, prefix+"users", "not under users/")

	r := newTestRegistry(t, newTestWatcher(t, testSettings(endpoint, prefix)))
	sub := subscribe(t, r, "users")
	waitSet(t, sub, "first list", "127.0.0.1:9001")
	if in := sub.Set().Lookup("127.0.0.1:9001"); in.Weight != 1 || in.Meta["zone"] != "a" || in.Meta["version"] != "1.2" {
		t.Errorf("instance %+v", in.Endpoint)
	}

	reg, err := Register(context.Background(), cli, Key(prefix, "users", "b"), Value{Address: "127.0.0.1", Port: 9002, Weight: 5}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	waitSet(t, sub, "b registered", "127.0.0.1:9001", "127.0.0.1:9002")
	if w := sub.Set().Lookup("127.0.0.1:9002").Weight; w != 5 {
		t.Errorf("b weight %d", w)
	}

	put(t, cli, Key(prefix, "users", "a"), Value{Address: "127.0.0.1", Port: 9001, Weight: 2})
	eventually(t, within, "a's new weight", func() bool {
		in := sub.Set().Lookup("127.0.0.1:9001")
		return in != nil && in.Weight == 2
	})
	put(t, cli, Key(prefix, "users", "a"), `{"address": "127.0.0.1"}`) // no port: a is out
	waitSet(t, sub, "a unreadable", "127.0.0.1:9002")
	put(t, cli, Key(prefix, "users", "a"), Value{Address: "127.0.0.1", Port: 9001})
	waitSet(t, sub, "a back", "127.0.0.1:9001", "127.0.0.1:9002")
	del(t, cli, Key(prefix, "users", "a"))
	waitSet(t, sub, "a deleted", "127.0.0.1:9002")
	if err := reg.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitSet(t, sub, "b's lease revoked")

	st := discoverytest.Status(t, r, "users")
	if st.Invalid < 2 || st.Errors != 0 || st.Instances != 0 || st.Updates < 6 {
		t.Errorf("status %+v", st)
	}
}

// TestQuietServiceStaysSynced: without changes, progress notices keep
// the sync time fresh and count as no error.
func TestQuietServiceStaysSynced(t *testing.T) {
	endpoint, prefix, cli := etcdtest.Shared(t)
	put(t, cli, Key(prefix, "quiet", "a"), Value{Address: "127.0.0.1", Port: 9001})
	r := newTestRegistry(t, newTestWatcher(t, testSettings(endpoint, prefix)))
	sub := subscribe(t, r, "quiet")
	waitSet(t, sub, "first list", "127.0.0.1:9001")
	time.Sleep(1500 * time.Millisecond) // seven progress intervals
	st := discoverytest.Status(t, r, "quiet")
	if st.Errors != 0 || st.Updates != 1 || st.Staleness(time.Now()) > time.Second {
		t.Errorf("status %+v, staleness %v", st, st.Staleness(time.Now()))
	}
}

// TestEmptyServiceIsHonoured: a reachable etcd without keys for the
// service gives an empty list, not an error.
func TestEmptyServiceIsHonoured(t *testing.T) {
	endpoint, prefix, _ := etcdtest.Shared(t)
	r := newTestRegistry(t, newTestWatcher(t, testSettings(endpoint, prefix)))
	sub := subscribe(t, r, "nobody")
	select {
	case <-sub.Ready():
	case <-time.After(within):
		t.Fatal("no answer")
	}
	if sub.Set().Len() != 0 || discoverytest.Status(t, r, "nobody").Errors != 0 {
		t.Errorf("set %v, status %+v", discoverytest.Addrs(sub.Set()), discoverytest.Status(t, r, "nobody"))
	}
}

// TestOneWatchForManySubscribers: two hundred subscribers of a service
// run one Watch.
func TestOneWatchForManySubscribers(t *testing.T) {
	endpoint, prefix, cli := etcdtest.Shared(t)
	put(t, cli, Key(prefix, "users", "a"), Value{Address: "127.0.0.1", Port: 9001})
	w := &counting{Watcher: newTestWatcher(t, testSettings(endpoint, prefix))}
	r := newTestRegistry(t, w)
	subs := make([]*discovery.Subscription, 200)
	for i := range subs {
		subs[i] = subscribe(t, r, "users")
	}
	put(t, cli, Key(prefix, "users", "b"), Value{Address: "127.0.0.1", Port: 9002})
	for _, sub := range subs {
		waitSet(t, sub, "b seen", "127.0.0.1:9001", "127.0.0.1:9002")
	}
	w.mu.Lock()
	maxRun := w.maxRun
	w.mu.Unlock()
	if maxRun != 1 {
		t.Errorf("%d watches at once, want 1", maxRun)
	}
}

func TestRegisterRejectsBadValue(t *testing.T) {
	_, prefix, cli := etcdtest.Shared(t)
	_, err := Register(context.Background(), cli, Key(prefix, "users", "x"), Value{Address: "127.0.0.1"}, time.Second)
	if err == nil || !strings.Contains(err.Error(), "port") {
		t.Errorf("err %v", err)
	}
}
