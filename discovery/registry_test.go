package discovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastgate/gateway/internal/testwait"
)

// fakeSource is a Watcher driven by the test: each Watch call forwards
// what the test feeds for its service, and the source counts the calls.
type fakeSource struct {
	mu       sync.Mutex
	feeds    map[string]chan fed
	running  map[string]int
	maxRun   map[string]int
	starts   map[string]int
	failWith error // Watch returns it at once when set
}

func newFakeSource() *fakeSource {
	return &fakeSource{
		feeds:   make(map[string]chan fed),
		running: make(map[string]int),
		maxRun:  make(map[string]int),
		starts:  make(map[string]int),
	}
}

// fed is one update handed to a Watch; done is closed once sent.
type fed struct {
	u    Update
	done chan struct{}
}

func (f *fakeSource) feed(service string) chan fed {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.feeds[service]
	if c == nil {
		c = make(chan fed)
		f.feeds[service] = c
	}
	return c
}

func (f *fakeSource) Watch(ctx context.Context, service string, send func(Update)) error {
	feed := f.feed(service)
	f.mu.Lock()
	f.starts[service]++
	f.running[service]++
	f.maxRun[service] = max(f.maxRun[service], f.running[service])
	err := f.failWith
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running[service]--
		f.mu.Unlock()
	}()
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case it := <-feed:
			send(it.u)
			close(it.done)
		}
	}
}

// count returns starts, running and the most concurrent Watch calls of service.
func (f *fakeSource) count(service string) (starts, running, maxRun int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts[service], f.running[service], f.maxRun[service]
}

// push hands u to the running Watch of service and waits until the
// Registry has applied it, failing after a second.
func (f *fakeSource) push(t *testing.T, service string, u Update) {
	t.Helper()
	it := fed{u: u, done: make(chan struct{})}
	timeout := time.After(time.Second)
	select {
	case f.feed(service) <- it:
	case <-timeout:
		t.Fatalf("no watch of %s took the update", service)
	}
	select {
	case <-it.done:
	case <-timeout:
		t.Fatalf("update of %s not applied", service)
	}
}

func eps(addrs ...string) []Endpoint {
	out := make([]Endpoint, len(addrs))
	for i, a := range addrs {
		out[i] = Endpoint{Addr: a, Weight: 1}
	}
	return out
}

func setAddrs(s *Set) []string {
	out := []string{}
	for _, in := range s.Instances() {
		out = append(out, in.Addr)
	}
	return out
}

func newTestRegistry(t *testing.T, s RegistrySettings) *Registry {
	t.Helper()
	r, err := NewRegistry(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func mustSubscribe(t *testing.T, r *Registry, source, service string) *Subscription {
	t.Helper()
	s, err := r.Subscribe(source, service, HealthSettings{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitFor waits until cond holds, for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, d, what, cond)
}

func statusOf(t *testing.T, r *Registry, source, service string) ServiceStatus {
	t.Helper()
	for _, st := range r.Status() {
		if st.Source == source && st.Service == service {
			return st
		}
	}
	t.Fatalf("no status for %s/%s", source, service)
	return ServiceStatus{}
}

func TestRegistryOneWatchPerService(t *testing.T) {
	src := newFakeSource()
	r := newTestRegistry(t, RegistrySettings{Sources: map[string]Watcher{"fake": src}})
	const n = 200
	subs := make([]*Subscription, n)
	var wg sync.WaitGroup
	for i := range subs {
		wg.Go(func() { subs[i] = mustSubscribe(t, r, "fake", "users") })
	}
	wg.Wait()
	other := mustSubscribe(t, r, "fake", "orders")
	waitFor(t, time.Second, "watches running", func() bool {
		_, a, _ := src.count("users")
		_, b, _ := src.count("orders")
		return a == 1 && b == 1
	})

	src.push(t, "users", Update{Endpoints: eps("10.0.0.1:80", "10.0.0.2:80"), Changed: true})
	for i, s := range subs {
		select {
		case <-s.Changed():
		case <-time.After(time.Second):
			t.Fatalf("subscriber %d: no change signal", i)
		}
		select {
		case <-s.Ready():
		default:
			t.Fatalf("subscriber %d: not ready after the first answer", i)
		}
		if got := setAddrs(s.Set()); !slices.Equal(got, []string{"10.0.0.1:80", "10.0.0.2:80"}) {
			t.Fatalf("subscriber %d: set %v", i, got)
		}
	}
	if other.Set().Len() != 0 {
		t.Errorf("orders got users' instances: %v", setAddrs(other.Set()))
	}
	st := statusOf(t, r, "fake", "users")
	if st.Subscribers != n || st.Instances != 2 || st.Updates != 1 || st.LastSync.IsZero() {
		t.Errorf("status %+v", st)
	}

	for _, s := range subs[1:] {
		_ = s.Close()
	}
	if _, running, _ := src.count("users"); running != 1 {
		t.Fatalf("watch stopped with a subscriber left (running %d)", running)
	}
	_ = subs[0].Close()
	_ = subs[0].Close() // twice is harmless
	starts, running, maxRun := src.count("users")
	if starts != 1 || running != 0 || maxRun != 1 {
		t.Errorf("starts %d, running %d, max running %d; want 1, 0, 1", starts, running, maxRun)
	}
	if got := len(r.Status()); got != 1 {
		t.Errorf("%d services in status after unsubscribing users, want 1", got)
	}
	_ = other.Close()
}

func TestRegistryUpdates(t *testing.T) {
	a, b := "10.0.0.1:80", "10.0.0.2:80"
	boom := errors.New("connection refused")
	tests := []struct {
		desc        string
		give        []Update // after a first answer of [a b]
		want        []string
		wantUpdates uint64
		wantErrors  uint64
		wantInvalid uint64
	}{
		{
			desc:        "registry down: last list stays",
			give:        []Update{{Err: boom}, {Err: boom}},
			want:        []string{a, b},
			wantUpdates: 1, wantErrors: 2,
		},
		{
			desc:        "empty answer from a reachable registry is honoured",
			give:        []Update{{Err: boom}, {Changed: true, Endpoints: nil}},
			want:        []string{},
			wantUpdates: 2, wantErrors: 1,
		},
		{
			desc:        "same list reported as changed: no new set",
			give:        []Update{{Changed: true, Endpoints: eps(a, b)}, {}},
			want:        []string{a, b},
			wantUpdates: 1,
		},
		{
			desc:        "removal and invalid entries",
			give:        []Update{{Changed: true, Endpoints: eps(b), Invalid: 2}},
			want:        []string{b},
			wantUpdates: 2, wantInvalid: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			src := newFakeSource()
			r := newTestRegistry(t, RegistrySettings{Sources: map[string]Watcher{"fake": src}})
			s := mustSubscribe(t, r, "fake", "svc")
			defer s.Close()
			src.push(t, "svc", Update{Changed: true, Endpoints: eps(a, b)})
			first := s.Set()
			for _, u := range tt.give {
				src.push(t, "svc", u)
			}
			if got := setAddrs(s.Set()); !slices.Equal(got, tt.want) {
				t.Errorf("set %v, want %v", got, tt.want)
			}
			if slices.Equal(tt.want, []string{a, b}) && s.Set() != first {
				t.Errorf("set replaced though the list did not change")
			}
			st := statusOf(t, r, "fake", "svc")
			if st.Updates != tt.wantUpdates || st.Errors != tt.wantErrors || st.Invalid != tt.wantInvalid {
				t.Errorf("updates %d errors %d invalid %d, want %d %d %d",
					st.Updates, st.Errors, st.Invalid, tt.wantUpdates, tt.wantErrors, tt.wantInvalid)
			}
			if tt.wantErrors > 0 && (st.LastError == "" || st.LastErrorAt.IsZero()) {
				t.Errorf("last error not recorded: %+v", st)
			}
		})
	}
}

func TestRegistryCarriesInstanceState(t *testing.T) {
	src := newFakeSource()
	r := newTestRegistry(t, RegistrySettings{Sources: map[string]Watcher{"fake": src}})
	hs := HealthSettings{MaxFailures: 1, Cooldown: time.Minute}
	s1, err := r.Subscribe("fake", "svc", hs)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2 := mustSubscribe(t, r, "fake", "svc") // passive health off
	defer s2.Close()

	src.push(t, "svc", Update{Changed: true, Endpoints: eps("a:1", "b:1")})
	in := s1.Set().Lookup("a:1")
	in.Acquire()
	in.ReportFailure(time.Now().UnixNano())
	src.push(t, "svc", Update{Changed: true, Endpoints: eps("a:1", "c:1")})

	a := s1.Set().Lookup("a:1")
	if a == nil || a.InFlight() != 1 || a.Available(time.Now().UnixNano()) {
		t.Fatalf("a:1 lost its state across the change: %+v", a)
	}
	if b := s2.Set().Lookup("a:1"); b == nil || b.InFlight() != 0 {
		t.Errorf("another subscriber shares a:1's state: %+v", b)
	}
	if got := setAddrs(s2.Set()); !slices.Equal(got, []string{"a:1", "c:1"}) {
		t.Errorf("s2 set %v", got)
	}
}

func TestRegistrySubscribeErrors(t *testing.T) {
	src := newFakeSource()
	tests := []struct {
		desc     string
		give     string // source name
		close    bool
		want     error
		wantText string
	}{
		{desc: "unknown source", give: "zookeeper", want: ErrUnknownSource, wantText: `"zookeeper"`},
		{desc: "empty source", give: "", want: ErrUnknownSource, wantText: `[fake]`},
		{desc: "closed registry", give: "fake", close: true, want: ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := newTestRegistry(t, RegistrySettings{Sources: map[string]Watcher{"fake": src}})
			if tt.close {
				_ = r.Close()
			}
			_, err := r.Subscribe(tt.give, "svc", HealthSettings{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("err %q does not name %s", err, tt.wantText)
			}
		})
	}
}

func TestRegistryRestartsWatch(t *testing.T) {
	src := newFakeSource()
	src.failWith = errors.New("bad service name")
	r := newTestRegistry(t, RegistrySettings{
		Sources: map[string]Watcher{"fake": src},
		Restart: Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond},
	})
	s := mustSubscribe(t, r, "fake", "svc")
	waitFor(t, 2*time.Second, "watch started again", func() bool {
		starts, _, _ := src.count("svc")
		return starts >= 3
	})
	st := statusOf(t, r, "fake", "svc")
	if st.Errors < 2 || !strings.Contains(st.LastError, "bad service name") {
		t.Errorf("status %+v", st)
	}
	_ = s.Close()
	_, running, _ := src.count("svc")
	if running != 0 {
		t.Errorf("watch still running after close")
	}
}

func TestRegistryCloseStopsWatches(t *testing.T) {
	src := newFakeSource()
	r := newTestRegistry(t, RegistrySettings{Sources: map[string]Watcher{"fake": src}})
	subs := make([]*Subscription, 0, 5)
	for i := range 5 {
		subs = append(subs, mustSubscribe(t, r, "fake", fmt.Sprint("svc", i)))
	}
	src.push(t, "svc0", Update{Changed: true, Endpoints: eps("a:1")})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, running, _ := src.count(fmt.Sprint("svc", i)); running != 0 {
			t.Errorf("svc%d still watched after Close", i)
		}
	}
	if got := setAddrs(subs[0].Set()); !slices.Equal(got, []string{"a:1"}) {
		t.Errorf("set after Close %v", got)
	}
	for _, s := range subs {
		_ = s.Close() // after the registry: harmless
	}
	_ = r.Close()
}

func TestResubscribeStartsWithLastList(t *testing.T) {
	src := newFakeSource()
	r := newTestRegistry(t, RegistrySettings{Sources: map[string]Watcher{"fake": src}})
	s := mustSubscribe(t, r, "fake", "svc")
	src.push(t, "svc", Update{Changed: true, Endpoints: eps("a:1")})
	_ = s.Close()

	s = mustSubscribe(t, r, "fake", "svc")
	defer s.Close()
	select {
	case <-s.Ready():
	default:
		t.Fatal("not ready though the list is known")
	}
	if got := setAddrs(s.Set()); !slices.Equal(got, []string{"a:1"}) {
		t.Errorf("set %v", got)
	}
	waitFor(t, time.Second, "second watch started", func() bool {
		starts, running, _ := src.count("svc")
		return starts == 2 && running == 1
	})
}

func TestStaticSource(t *testing.T) {
	r := newTestRegistry(t, RegistrySettings{Sources: map[string]Watcher{
		"static": Static{"users": {{Addr: "b:1", Weight: 2}, {Addr: "a:1"}, {Addr: "b:1"}}},
	}})
	s := mustSubscribe(t, r, "static", "users")
	defer s.Close()
	none := mustSubscribe(t, r, "static", "nope")
	defer none.Close()
	for _, sub := range []*Subscription{s, none} {
		select {
		case <-sub.Ready():
		case <-time.After(time.Second):
			t.Fatalf("%s never ready", sub.Service())
		}
	}
	if got := setAddrs(s.Set()); !slices.Equal(got, []string{"a:1", "b:1"}) {
		t.Errorf("set %v", got)
	}
	if w := s.Set().Lookup("b:1").Weight; w != 2 {
		t.Errorf("b:1 weight %d, want the first listed (2)", w)
	}
	if none.Set().Len() != 0 {
		t.Errorf("unknown service has instances")
	}
}
