package etcd

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/reloader"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// eventually polls cond every 5ms for at most d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recTarget records what a Source hands it. Its Apply may be held (hold)
// so that a test can change etcd while a Source is between two steps.
type recTarget struct {
	mu       sync.Mutex
	applied  []*config.Config
	triggers []string
	refused  []error
	hold     func(cfg *config.Config) // called in Apply, outside mu
}

var _ reloader.Target[string] = (*recTarget)(nil)

func (r *recTarget) Apply(cfg *config.Config, req reloader.Request) (string, error) {
	if r.hold != nil {
		r.hold(cfg)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = append(r.applied, cfg)
	r.triggers = append(r.triggers, req.Trigger)
	return "applied", nil
}

func (r *recTarget) Preview(*config.Config, reloader.Request) (string, error) { return "preview", nil }

func (r *recTarget) Refuse(err error, _ reloader.Request) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refused = append(r.refused, err)
	return "refused"
}

func (r *recTarget) counts() (applied, refused int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.applied), len(r.refused)
}

// lastBody is the respond body of the route named hello in the last
// configuration applied.
func (r *recTarget) lastBody() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.applied) == 0 {
		return ""
	}
	for _, rt := range r.applied[len(r.applied)-1].Routes {
		if rt.Name == "hello" && rt.Respond != nil {
			return rt.Respond.Body
		}
	}
	return ""
}

func (r *recTarget) lastRefusal() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.refused) == 0 {
		return ""
	}
	return r.refused[len(r.refused)-1].Error()
}

// local is an instance's own file, with its config_source.
func local(t *testing.T, endpoint, prefix string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
config_source:
  etcd: { endpoints: [%q], prefix: %q }
`, endpoint, prefix)), "local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// testConn notices an etcd that is gone quickly.
func testConn(endpoint, prefix string) Conn {
	return Conn{Endpoints: []string{endpoint}, Prefix: prefix, DialTimeout: time.Second, RequestTimeout: 500 * time.Millisecond}
}

// startSource runs a Source over target until the test ends.
func startSource(t *testing.T, endpoint, prefix string, target *recTarget, state string) *Source[string] {
	t.Helper()
	src, err := New(Settings[string]{
		Conn:             testConn(endpoint, prefix),
		ProgressInterval: 200 * time.Millisecond,
		Backoff:          discovery.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		StateFile:        state,
		Local:            local(t, endpoint, prefix),
		Target:           target,
		Logger:           slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; _ = src.Close() })
	return src
}

func newPublisher(t *testing.T, endpoint, prefix string) *Publisher {
	t.Helper()
	p, err := NewPublisher(testConn(endpoint, prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// hello is a version whose route hello answers body.
func hello(body string) map[string][]byte {
	return map[string][]byte{"gateway.yaml": []byte(`routes:
  - name: hello
    match: { path: /hello }
    respond: { body: "` + body + `" }
`)}
}

// publish publishes files over whatever is current.
func publish(t *testing.T, p *Publisher, files map[string][]byte) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cur, err := p.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := p.Publish(ctx, files, cur, "test")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func put(t *testing.T, cli *clientv3.Client, key, value string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Put(ctx, key, value)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}
