package consul

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/fastgate/gateway/discovery"
)

// TestReplayMatchesRecordings holds the fake agent to the real one: for
// each recorded state and query, it answers what Consul answered.
func TestReplayMatchesRecordings(t *testing.T) {
	all := loadRecording(t, "08-health-service-users-all.http").body
	// At index 26 users-2 is back (registered anew, passing).
	at26 := func(f *fakeConsul) { f.setState(loadRecording(t, "16-health-service-users-filter-tag.http").body, 26) }
	tests := []struct {
		desc  string
		state func(f *fakeConsul)
		path  string
		want  string // recording
	}{
		{desc: "both passing", path: "/v1/health/service/users?passing=true", want: "03-health-service-users-passing.http"},
		{desc: "users-2 deregistered", state: func(f *fakeConsul) { f.deregister("users-2") },
			path: "/v1/health/service/users?passing=1&index=21&wait=30s", want: "05-health-service-users-passing-block-deregister.http"},
		{desc: "users-2 critical, passing only", state: func(f *fakeConsul) { f.setState(all, 25) },
			path: "/v1/health/service/users?passing=true&index=24&wait=30s", want: "07-health-service-users-passing-block-check-fail.http"},
		{desc: "users-2 critical, all", state: func(f *fakeConsul) { f.setState(all, 25) },
			path: "/v1/health/service/users", want: "08-health-service-users-all.http"},
		{desc: "unknown service", path: "/v1/health/service/nope?passing=true", want: "12-health-service-unknown.http"},
		{desc: "tag", state: at26, path: "/v1/health/service/users?passing=true&tag=v1", want: "16-health-service-users-filter-tag.http"},
		{desc: "tag nobody has", state: at26, path: "/v1/health/service/users?passing=true&tag=v9", want: "12-health-service-unknown.http"},
		{desc: "stale", state: at26, path: "/v1/health/service/users?passing=true&stale", want: "14-health-service-users-passing-stale.http"},
		{desc: "consistent", state: at26, path: "/v1/health/service/users?passing=true&consistent", want: "15-health-service-users-passing-consistent.http"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f := newFakeConsul(t)
			if tt.state != nil {
				tt.state(f)
			}
			resp, err := http.Get("http://" + f.addr + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := loadRecording(t, tt.want)
			if !jsonEqual(t, body, want.body) {
				t.Errorf("body differs from %s:\n%s", tt.want, body)
			}
			for _, h := range []string{"X-Consul-Effective-Consistency", "X-Consul-Query-Backend", "X-Consul-Knownleader", "Content-Type"} {
				if got := resp.Header.Get(h); got != want.header.Get(h) {
					t.Errorf("%s: %q, recorded %q", h, got, want.header.Get(h))
				}
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

func TestEndpoints(t *testing.T) {
	var recorded []*api.ServiceEntry
	if err := json.Unmarshal(loadRecording(t, "08-health-service-users-all.http").body, &recorded); err != nil {
		t.Fatal(err)
	}
	entry := func(addr, node string, port int, w api.AgentWeights, status, checkID string) *api.ServiceEntry {
		return &api.ServiceEntry{
			Node:    &api.Node{Address: node},
			Service: &api.AgentService{Address: addr, Port: port, Weights: w},
			Checks:  api.HealthChecks{{CheckID: checkID, Status: status}},
		}
	}
	ok := api.HealthPassing
	tests := []struct {
		desc        string
		give        []*api.ServiceEntry
		passingOnly bool
		want        []discovery.Endpoint
		wantInvalid int
	}{
		{
			desc: "recorded entries", give: recorded, passingOnly: false,
			want: []discovery.Endpoint{
				{Addr: users1, Weight: 1, Meta: map[string]string{"protocol": "http", "version": "1.4.2"}},
				{Addr: users2, Weight: 1, Meta: map[string]string{"protocol": "http", "version": "1.4.2"}},
			},
		},
		{
			desc: "node address when the service has none", passingOnly: true,
			give: []*api.ServiceEntry{entry("", "10.0.0.9", 80, api.AgentWeights{Passing: 3}, ok, "c")},
			want: []discovery.Endpoint{{Addr: "10.0.0.9:80", Weight: 3}},
		},
		{
			desc: "IPv6 and sorting", passingOnly: true,
			give: []*api.ServiceEntry{
				entry("fd00::2", "", 80, api.AgentWeights{}, ok, "c"),
				entry("[fd00::1]", "", 80, api.AgentWeights{}, ok, "c"),
			},
			want: []discovery.Endpoint{{Addr: "[fd00::1]:80", Weight: 1}, {Addr: "[fd00::2]:80", Weight: 1}},
		},
		{
			desc: "warning weight", passingOnly: false,
			give: []*api.ServiceEntry{entry("10.0.0.1", "", 80, api.AgentWeights{Passing: 10, Warning: 2}, api.HealthWarning, "c")},
			want: []discovery.Endpoint{{Addr: "10.0.0.1:80", Weight: 2}},
		},
		{
			desc: "maintenance left out when failing instances are included", passingOnly: false,
			give: []*api.ServiceEntry{entry("10.0.0.1", "", 80, api.AgentWeights{}, api.HealthCritical, "_service_maintenance:x")},
			want: []discovery.Endpoint{},
		},
		{
			desc: "unreadable entries counted", passingOnly: true,
			give: []*api.ServiceEntry{
				nil,
				{Node: &api.Node{Address: "10.0.0.1"}},
				entry("", "", 80, api.AgentWeights{}, ok, "c"),
				entry("10.0.0.1", "", 0, api.AgentWeights{}, ok, "c"),
				entry("10.0.0.1", "", 70000, api.AgentWeights{}, ok, "c"),
				entry("10.0.0.1", "", 80, api.AgentWeights{}, ok, "c"),
			},
			want:        []discovery.Endpoint{{Addr: "10.0.0.1:80", Weight: 1}},
			wantInvalid: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, invalid := endpoints(tt.give, tt.passingOnly)
			if !discovery.EqualEndpoints(got, tt.want) || invalid != tt.wantInvalid {
				t.Errorf("got %v (%d invalid), want %v (%d invalid)", got, invalid, tt.want, tt.wantInvalid)
			}
		})
	}
}

func TestNextIndex(t *testing.T) {
	tests := []struct {
		desc       string
		prev, give uint64
		want       uint64
	}{
		{desc: "first answer", prev: 0, give: 21, want: 21},
		{desc: "moved on", prev: 21, give: 22, want: 22},
		{desc: "unchanged after a wait", prev: 21, give: 21, want: 21},
		{desc: "went backwards: start over", prev: 21, give: 5, want: 0},
		{desc: "zero after a reset: block on 1", prev: 0, give: 0, want: 1},
		{desc: "zero after a block: start over", prev: 21, give: 0, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := NextIndex(tt.prev, tt.give); got != tt.want {
				t.Errorf("NextIndex(%d, %d) = %d, want %d", tt.prev, tt.give, got, tt.want)
			}
		})
	}
}

func TestNewSettings(t *testing.T) {
	tests := []struct {
		desc           string
		give           Settings
		wantErr        string
		wantStale      bool
		wantConsistent bool
		wantWait       time.Duration
	}{
		{desc: "defaults", give: Settings{}, wantStale: true, wantWait: DefaultWaitTime},
		{desc: "default mode", give: Settings{Consistency: "default"}, wantWait: DefaultWaitTime},
		{desc: "consistent", give: Settings{Consistency: "consistent", WaitTime: time.Hour}, wantConsistent: true, wantWait: MaxWaitTime},
		{desc: "unknown mode", give: Settings{Consistency: "eventual"}, wantErr: `consistency "eventual"`},
		{desc: "bad address", give: Settings{Address: "ftp://x"}, wantErr: "ftp"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			w, err := New(tt.give)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if w.query.AllowStale != tt.wantStale || w.query.RequireConsistent != tt.wantConsistent || w.wait != tt.wantWait {
				t.Errorf("stale %v consistent %v wait %v", w.query.AllowStale, w.query.RequireConsistent, w.wait)
			}
		})
	}
}

// TestQueryParameters: what a real Consul is sent for each setting.
func TestQueryParameters(t *testing.T) {
	tests := []struct {
		desc      string
		give      func(*Settings)
		want      []string // query parameters present
		wantNot   []string
		wantToken string
	}{
		{desc: "defaults", give: func(*Settings) {}, want: []string{"passing", "stale"}, wantNot: []string{"consistent", "tag", "dc"}},
		{desc: "consistent, tag, dc", give: func(s *Settings) { s.Consistency, s.Tag, s.Datacenter = "consistent", "v1", "dc1" },
			want: []string{"passing", "consistent", "tag", "dc"}, wantNot: []string{"stale"}},
		{desc: "default mode, failing included", give: func(s *Settings) { s.Consistency, s.IncludeFailing = "default", true },
			wantNot: []string{"passing", "stale", "consistent"}},
		{desc: "token", give: func(s *Settings) { s.Token = "s3cret" }, want: []string{"passing"}, wantToken: "s3cret"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f := newFakeConsul(t)
			s := testSettings(f)
			tt.give(&s)
			rec := startWatch(t, newTestWatcher(t, s), "users")
			eventually(t, 10*time.Second, "a list", func() bool { _, ok := rec.lastList(); return ok })
			eventually(t, 10*time.Second, "a blocking query", func() bool { return len(f.log("users")) >= 2 })
			for i, r := range f.log("users")[:2] {
				for _, p := range tt.want {
					if _, ok := r.query[p]; !ok {
						t.Errorf("query %d: no %s in %v", i, p, r.query)
					}
				}
				for _, p := range tt.wantNot {
					if _, ok := r.query[p]; ok {
						t.Errorf("query %d: %s in %v", i, p, r.query)
					}
				}
				if r.token != tt.wantToken {
					t.Errorf("query %d: token %q, want %q", i, r.token, tt.wantToken)
				}
			}
			first, second := f.log("users")[0].query, f.log("users")[1].query
			if _, ok := first["index"]; ok {
				t.Errorf("first query blocks: %v", first)
			}
			if second["index"][0] != "21" || second["wait"][0] != "1000ms" {
				t.Errorf("second query %v, want index=21 wait=1000ms", second)
			}
		})
	}
}

func TestTokenAndErrors(t *testing.T) {
	tests := []struct {
		desc     string
		token    string
		dc       string
		wantList bool
		wantErr  string
	}{
		{desc: "right token", token: "s3cret", wantList: true},
		{desc: "wrong token", token: "nope", wantErr: "403"},
		{desc: "unknown datacenter", token: "s3cret", dc: "mars", wantErr: "No path to datacenter"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f := newFakeConsul(t)
			f.setToken("s3cret")
			s := testSettings(f)
			s.Token, s.Datacenter = tt.token, tt.dc
			rec := startWatch(t, newTestWatcher(t, s), "users")
			eventually(t, 10*time.Second, "an answer or an error", func() bool { return len(rec.all()) > 0 })
			u := rec.all()[0]
			if tt.wantList != u.Changed || (tt.wantErr == "") != (u.Err == nil) {
				t.Fatalf("first update %+v", u)
			}
			if tt.wantErr != "" && !strings.Contains(u.Err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %q", u.Err, tt.wantErr)
			}
		})
	}
}

// TestUnknownServiceIsEmpty: a reachable Consul that knows no instance
// gives an empty list, not an error.
func TestUnknownServiceIsEmpty(t *testing.T) {
	f := newFakeConsul(t)
	rec := startWatch(t, newTestWatcher(t, testSettings(f)), "nope")
	eventually(t, 10*time.Second, "an answer", func() bool { return len(rec.all()) > 0 })
	if u := rec.all()[0]; u.Err != nil || !u.Changed || len(u.Endpoints) != 0 {
		t.Errorf("update %+v", u)
	}
}

// TestBlockingAnswersWithoutLeaderAreFine: the streaming backend's
// X-Consul-Knownleader: false on every blocking answer is no error.
func TestBlockingAnswersWithoutLeaderAreFine(t *testing.T) {
	f := newFakeConsul(t)
	s := testSettings(f)
	s.WaitTime = 100 * time.Millisecond
	rec := startWatch(t, newTestWatcher(t, s), "users")
	eventually(t, 10*time.Second, "four blocking answers", func() bool { return len(rec.all()) >= 5 })
	for i, u := range rec.all() {
		if u.Err != nil || u.Changed != (i == 0) {
			t.Errorf("update %d: %+v", i, u)
		}
	}
	if got := addrsOf(rec.all()[0].Endpoints); !slices.Equal(got, []string{users1, users2}) {
		t.Errorf("list %v", got)
	}
	if !bytes.Contains([]byte(f.blocking.Get("X-Consul-Knownleader")), []byte("false")) {
		t.Errorf("the blocking recording should carry Knownleader false")
	}
}
