package registration

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fastgate/gateway/internal/consultest"
	"github.com/fastgate/gateway/internal/logtest"
)

// consulSettings registers instance id of "gateway" on port with the
// agent f, its check on checkURL.
func consulSettings(f *consultest.ServiceAgent, id string, port int, checkURL string) Settings {
	return Settings{
		Instance: Instance{
			Service: "gateway", ID: id, Address: "127.0.0.1", Port: port,
			Tags: []string{"edge"}, Meta: map[string]string{"version": "v1.2.3"},
		},
		Consul: &ConsulSettings{
			Address:         "http://" + f.Addr(),
			CheckURL:        checkURL,
			CheckInterval:   time.Second,
			CheckTimeout:    500 * time.Millisecond,
			DeregisterAfter: time.Minute,
			WaitTime:        time.Second,
			MinInterval:     10 * time.Millisecond,
			RequestTimeout:  time.Second,
		},
	}
}

// TestConsulRegisterBody: what a registration sends is the request a
// real Consul agent accepted (recording 00's body): the same method and
// path, the same fields at the top and in the check, with this
// instance's values, and the check on the admin /readyz.
func TestConsulRegisterBody(t *testing.T) {
	f := consultest.NewServiceAgent(t)
	start(t, consulSettings(f, "gw-1", 8080, "http://127.0.0.1:9901/readyz"), nil)
	eventually(t, 5*time.Second, "a registration", func() bool { return len(f.Registered()) > 0 })

	recorded := consultest.RegisterRequest(t)
	var want, got map[string]any
	consultest.DecodeJSON(t, recorded, &want)
	consultest.DecodeJSON(t, f.Registered()[0], &got)
	// The Consul client always sends "Checks" (null without any); an
	// agent takes null as none.
	if v, ok := got["Checks"]; ok && v != nil {
		t.Errorf("Checks = %v, want null or absent", v)
	}
	delete(got, "Checks")
	if g, w := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)); !slices.Equal(g, w) {
		t.Errorf("register body has the fields %q; the recorded one %q", g, w)
	}
	if g, w := slices.Sorted(maps.Keys(consultest.Obj(got, "Check"))), slices.Sorted(maps.Keys(consultest.Obj(want, "Check"))); !slices.Equal(g, w) {
		t.Errorf("register body's Check has the fields %q; the recorded one %q", g, w)
	}
	wantValues := map[string]any{
		"ID": "gw-1", "Name": "gateway", "Address": "127.0.0.1", "Port": json.Number("8080"),
	}
	for k, v := range wantValues {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if tags := consultest.List(got, "Tags"); len(tags) != 1 || tags[0] != "edge" {
		t.Errorf("Tags = %v, want [edge]", tags)
	}
	if v := consultest.Str(consultest.Obj(got, "Meta"), "version"); v != "v1.2.3" {
		t.Errorf("Meta.version = %q", v)
	}
	check := consultest.Obj(got, "Check")
	for k, v := range map[string]string{
		"CheckID": "gw-1-readyz", "HTTP": "http://127.0.0.1:9901/readyz",
		"Interval": "1s", "Timeout": "500ms", "DeregisterCriticalServiceAfter": "1m0s",
	} {
		if consultest.Str(check, k) != v {
			t.Errorf("Check.%s = %q, want %q", k, consultest.Str(check, k), v)
		}
	}
	// The recorded durations are Go durations too, as Consul parses them.
	for _, k := range []string{"Interval", "Timeout", "DeregisterCriticalServiceAfter"} {
		if _, err := time.ParseDuration(consultest.Str(consultest.Obj(want, "Check"), k)); err != nil {
			t.Errorf("recorded Check.%s: %v", k, err)
		}
		if _, err := time.ParseDuration(consultest.Str(check, k)); err != nil {
			t.Errorf("sent Check.%s: %v", k, err)
		}
	}
}

// readyz is an admin /readyz whose answer the test sets.
type readyz struct {
	mu    sync.Mutex
	ready bool
	srv   *httptest.Server
}

func newReadyz(t *testing.T) *readyz {
	rz := &readyz{ready: true}
	rz.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		rz.mu.Lock()
		defer rz.mu.Unlock()
		if !rz.ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(rz.srv.Close)
	return rz
}

func (rz *readyz) set(ready bool) { rz.mu.Lock(); rz.ready = ready; rz.mu.Unlock() }
func (rz *readyz) url() string    { return rz.srv.URL + "/readyz" }

// TestConsulCountFollowsInstances: three instances register with one
// agent; each counts the passing ones as their checks pass, an instance
// whose /readyz fails leaves the count, one that deregisters leaves it
// at once (PUT /v1/agent/service/deregister/:id), and the count never
// goes below 1.
func TestConsulCountFollowsInstances(t *testing.T) {
	f := consultest.NewServiceAgent(t)
	var rs []*Registration
	var rzs []*readyz
	for i, id := range []string{"gw-1", "gw-2", "gw-3"} {
		rz := newReadyz(t)
		rzs = append(rzs, rz)
		rs = append(rs, start(t, consulSettings(f, id, 8081+i, rz.url()), nil))
	}
	eventually(t, 5*time.Second, "three registrations", func() bool { return len(f.Registered()) >= 3 })
	// New checks are critical: no instance passes yet, and each counts 1
	// (itself) once the agent answered.
	counts(t, 1, rs...)
	f.RunChecks()
	counts(t, 3, rs...)

	// gw-3 drains: its /readyz answers 503, the agent's next check fails.
	rzs[2].set(false)
	f.RunChecks()
	counts(t, 2, rs...)
	rzs[2].set(true)
	f.RunChecks()
	counts(t, 3, rs...)

	// gw-2 shuts down: deregistered first, the others count 2 at once.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rs[1].Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.Deregistered(); len(got) != 1 || got[0].ID != "gw-2" {
		t.Errorf("deregistered %+v, want gw-2", got)
	}
	counts(t, 2, rs[0], rs[2])
	if rs[1].Status().Registered {
		t.Error("gw-2 still says it is registered")
	}

	// Every check fails: each counts itself.
	for _, rz := range rzs {
		rz.set(false)
	}
	f.RunChecks()
	counts(t, 1, rs[0], rs[2])

	for _, q := range f.HealthQueries() {
		if !q.Has("passing") {
			t.Fatalf("a count query without ?passing: %v", q)
		}
	}
}

// TestConsulDownAtStart: an agent that does not answer never blocks
// Start; the instance registers once it answers, the outage is logged
// once when it starts and once when it ends, and an agent that restarts
// without its services gets the registration again.
func TestConsulDownAtStart(t *testing.T) {
	f := consultest.NewServiceAgent(t)
	f.SetFailing(true)
	var logs logtest.Buffer
	rz := newReadyz(t)
	began := time.Now()
	r := start(t, consulSettings(f, "gw-1", 8080, rz.url()), &logs)
	if d := time.Since(began); d > time.Second {
		t.Errorf("Start took %v with the agent down", d)
	}
	eventually(t, 5*time.Second, "the outage seen", func() bool { return !r.Status().Reachable })
	if r.Count() != 0 || r.Status().Registered {
		t.Errorf("with the agent down from the start: count %d, status %+v; want 0, not registered", r.Count(), r.Status())
	}
	// Several retries fail (the log must still say it once), then the
	// agent answers.
	eventually(t, 5*time.Second, "retries", func() bool { return f.Refused() >= 6 })
	f.SetFailing(false)
	eventually(t, 5*time.Second, "registered", func() bool { return r.Status().Registered && r.Count() == 1 })
	if n := logs.Count("registration: registry unreachable"); n != 1 {
		t.Errorf("outage start logged %d times, want 1:\n%s", n, logs.String())
	}
	eventually(t, 5*time.Second, "the end of the outage logged", func() bool { return logs.Count("registration: registry reachable again") == 1 })

	// The agent restarts and forgets the service: the instance registers
	// again once the agent answers.
	before := len(f.Registered())
	f.Restart()
	eventually(t, 10*time.Second, "a registration after the restart", func() bool { return len(f.Registered()) > before })
	f.RunChecks()
	eventually(t, 5*time.Second, "counted again", func() bool { return r.Count() == 1 && r.Status().Registered })
}

// TestConsulReplaysRecordedAnswers: the count of the recorded answers of
// a real agent, in the order of its blocking queries: two passing (03,
// index 21), one after a deregistration during the wait (05, streaming
// backend; 41, the blocking-query backend), two after the registration
// again (06, index 24) and the check's recovery (11, index 26). Each next
// query blocks on the index of the last answer, with ?passing.
func TestConsulReplaysRecordedAnswers(t *testing.T) {
	for _, tt := range []struct {
		desc  string
		files map[string]string // by the ?index of the query
		want  []int
	}{
		{desc: "streaming backend", files: map[string]string{
			"":   "03-health-service-users-passing.http",
			"21": "05-health-service-users-passing-block-deregister.http",
			"22": "06-health-service-users-passing-reregistered.http",
			"24": "11-health-service-users-passing-block-recover.http",
		}, want: []int{2, 1, 2, 2}},
		{desc: "blocking-query backend", files: map[string]string{
			"":   "03-health-service-users-passing.http",
			"21": "41-nostream-health-service-users-passing-block-deregister.http",
		}, want: []int{2, 1}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				mu.Lock()
				seen = append(seen, r.Method+" "+r.URL.Path+" index="+q.Get("index"))
				mu.Unlock()
				if r.Method != http.MethodGet || r.URL.Path != "/v1/health/service/users" || !q.Has("passing") {
					http.Error(w, "not recorded", http.StatusNotFound)
					return
				}
				name, ok := tt.files[q.Get("index")]
				if !ok { // past the recordings: hold the query, as a quiet agent
					<-r.Context().Done()
					return
				}
				if q.Get("index") != "" && q.Get("wait") == "" {
					http.Error(w, "a blocking query without wait", http.StatusBadRequest)
					return
				}
				consultest.Load(t, name).Write(w)
			}))
			defer srv.Close()
			b, err := newConsul(Instance{Service: "users", ID: "users-9", Address: "127.0.0.1", Port: 1},
				ConsulSettings{Address: srv.URL, CheckURL: "http://127.0.0.1:1/readyz", WaitTime: time.Second, MinInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer b.close()
			ctx, cancel := context.WithCancel(context.Background())
			got := make(chan int, 10)
			done := make(chan error, 1)
			go func() {
				done <- b.follow(ctx, func(n int, _ bool) { got <- n })
			}()
			var counts []int
			for len(counts) < len(tt.want) {
				select {
				case n := <-got:
					counts = append(counts, n)
				case <-time.After(5 * time.Second):
					t.Fatalf("counts %v, want %v", counts, tt.want)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("follow returned %v", err)
			}
			if !slices.Equal(counts, tt.want) {
				t.Errorf("counts %v, want %v", counts, tt.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) < len(tt.want) || seen[0] != "GET /v1/health/service/users index=" || seen[1] != "GET /v1/health/service/users index=21" {
				t.Errorf("queries %q: want a plain read, then a blocking one on index 21", seen)
			}
		})
	}
}

// TestConsulRecordedRegisterAnswer: the recorded answer to a
// registration (200, no body) is taken as success.
func TestConsulRecordedRegisterAnswer(t *testing.T) {
	var body bytes.Buffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = body.ReadFrom(r.Body)
		consultest.Load(t, "00-agent-service-register-users-1.http").Write(w)
	}))
	defer srv.Close()
	b, err := newConsul(Instance{Service: "users", ID: "users-1", Address: "127.0.0.1", Port: 18081},
		ConsulSettings{Address: srv.URL, CheckURL: "http://127.0.0.1:18081/health"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if err := b.register(context.Background()); err != nil {
		t.Fatalf("register against the recorded answer: %v", err)
	}
	if body.Len() == 0 {
		t.Error("no body sent")
	}
}
