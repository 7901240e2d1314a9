package consul

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/configsource"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/internal/consultest"
	"github.com/fastgate/gateway/reloader"
)

// TestMain fails the package's tests if a goroutine outlives them. The
// Consul client's environment defaults are cleared: tests set what they
// send.
func TestMain(m *testing.M) {
	for _, v := range []string{"CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSUL_HTTP_ADDR"} {
		_ = os.Unsetenv(v)
	}
	goleak.VerifyTestMain(m)
}

// A change is followed within a second, as the issue asks.
const within = time.Second

const prefix = "fleet/"

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

// target records what a Source hands it.
type target struct {
	mu      sync.Mutex
	bodies  []string // the hello route's body of each configuration applied
	trigs   []string
	refused []error
}

var _ reloader.Target[string] = (*target)(nil)

func (r *target) Apply(cfg *config.Config, req reloader.Request) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	body := ""
	for _, rt := range cfg.Routes {
		if rt.Name == "hello" && rt.Respond != nil {
			body = rt.Respond.Body
		}
	}
	r.bodies = append(r.bodies, body)
	r.trigs = append(r.trigs, req.Trigger)
	return "applied", nil
}

func (r *target) Preview(*config.Config, reloader.Request) (string, error) { return "preview", nil }

func (r *target) Refuse(err error, _ reloader.Request) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refused = append(r.refused, err)
	return "refused"
}

func (r *target) counts() (applied, refused int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies), len(r.refused)
}

func (r *target) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bodies) == 0 {
		return ""
	}
	return r.bodies[len(r.bodies)-1]
}

func (r *target) lastRefusal() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.refused) == 0 {
		return ""
	}
	return r.refused[len(r.refused)-1].Error()
}

// testConn gives up on a hung agent quickly.
func testConn(addr string) Conn {
	return Conn{Address: "http://" + addr, Prefix: prefix, Timeout: 300 * time.Millisecond}
}

func local(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte("config_source:\n  consul: { prefix: "+prefix+" }\n"), "local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startSource runs a Source over tg until the test ends: blocking
// queries wait 1s at most.
func startSource(t *testing.T, conn Conn, tg *target, state string) *Source[string] {
	t.Helper()
	src, err := New(Settings[string]{
		Conn:        conn,
		WaitTime:    time.Second,
		MinInterval: 10 * time.Millisecond,
		Backoff:     discovery.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		StateFile:   state,
		Local:       local(t),
		Target:      tg,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, src)
	return src
}

// run runs src until the test ends.
func run(t *testing.T, src *Source[string]) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; _ = src.Close() })
}

func newPublisher(t *testing.T, addr string) *Publisher {
	t.Helper()
	p, err := NewPublisher(testConn(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func hello(body string) map[string][]byte {
	return map[string][]byte{"gateway.yaml": []byte("routes:\n  - name: hello\n    match: { path: /hello }\n    respond: { body: \"" + body + "\" }\n")}
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

// putVersion writes version n's keys by hand, as a buggy publisher or
// consul kv put could: the manifest says manifestFiles, the files are
// files.
func putVersion(kv *consultest.KV, n string, manifest map[string][]byte, files map[string][]byte) {
	m := configsource.NewManifest(0, manifest, "hand")
	b, _ := json.Marshal(m)
	b = bytes.Replace(b, []byte(`"version":0`), []byte(`"version":`+n), 1)
	for name, v := range files {
		kv.Put(prefix+"versions/"+n+"/files/"+name, v)
	}
	kv.Put(prefix+"versions/"+n+"/manifest", b)
}
