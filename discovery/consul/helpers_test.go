package consul

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/discovery/discoverytest"
	"github.com/fastgate/gateway/internal/testwait"
)

// TestMain fails the package's tests if a goroutine outlives them. The
// Consul client's environment defaults are cleared: tests set what they
// send.
func TestMain(m *testing.M) {
	for _, v := range []string{"CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSUL_HTTP_AUTH"} {
		_ = os.Unsetenv(v)
	}
	goleak.VerifyTestMain(m)
}

// testSettings are short enough for tests: a blocking query waits at
// most 1s (+1/16), a hung agent is given up after another 300ms.
func testSettings(f *fakeConsul) Settings {
	return Settings{
		Address:     "http://" + f.addr,
		WaitTime:    time.Second,
		MinInterval: 20 * time.Millisecond,
		Timeout:     300 * time.Millisecond,
		Backoff:     discovery.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
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

// recorder runs one Watch and keeps what it sends.
type recorder struct {
	mu      sync.Mutex
	updates []discovery.Update
}

func startWatch(t *testing.T, w discovery.Watcher, service string) *recorder {
	t.Helper()
	rec := new(recorder)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.Watch(ctx, service, func(u discovery.Update) {
			rec.mu.Lock()
			rec.updates = append(rec.updates, u)
			rec.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch returned %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Watch did not return after its context ended")
		}
	})
	return rec
}

func (r *recorder) all() []discovery.Update {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.updates)
}

// lastList returns the last list sent and whether there was one.
func (r *recorder) lastList() ([]discovery.Endpoint, bool) {
	us := r.all()
	for i := len(us) - 1; i >= 0; i-- {
		if us[i].Changed {
			return us[i].Endpoints, true
		}
	}
	return nil, false
}

func addrsOf(eps []discovery.Endpoint) []string {
	out := []string{}
	for _, ep := range eps {
		out = append(out, ep.Addr)
	}
	return out
}

// eventually waits until cond holds, for at most d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, d, what, cond)
}

// newTestRegistry returns a Registry whose source "consul" is w.
func newTestRegistry(t *testing.T, w *Watcher) *discovery.Registry {
	return discoverytest.Registry(t, "consul", w)
}

const (
	users1 = "127.0.0.1:18081"
	users2 = "127.0.0.1:18082"
	users3 = "127.0.0.1:18083"
)
