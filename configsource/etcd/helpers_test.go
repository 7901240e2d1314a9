package etcd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/reloader"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// unavailable skips the test, or fails it when REQUIRE_SERVICES is set.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("REQUIRE_SERVICES") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (scripts/services.sh etcd starts one)")
}

func newClient(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// sharedEtcd is the test etcd ($ETCD_ENDPOINTS, else 127.0.0.1:2379) and
// a prefix of the test's own, deleted afterwards.
func sharedEtcd(t *testing.T) (endpoint, prefix string, cli *clientv3.Client) {
	t.Helper()
	endpoint = os.Getenv("ETCD_ENDPOINTS")
	if endpoint == "" {
		endpoint = "127.0.0.1:2379"
	}
	endpoint, _, _ = strings.Cut(endpoint, ",")
	cli = newClient(t, endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := cli.Get(ctx, "health-probe"); err != nil {
		unavailable(t, "etcd at %s: %v", endpoint, err)
	}
	prefix = fmt.Sprintf("/gateway-test/fleet-%s-%d/", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = cli.Delete(ctx, prefix, clientv3.WithPrefix())
	})
	return endpoint, prefix, cli
}

// ownEtcd is an etcd server of one test's own on free loopback ports:
// for compactions and restarts, which must not touch the shared one.
type ownEtcd struct {
	t        *testing.T
	args     []string
	endpoint string
	cmd      *exec.Cmd
	exited   chan struct{}
}

func startOwnEtcd(t *testing.T) *ownEtcd {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/etcd"); serr != nil {
			unavailable(t, "no etcd program: %v", err)
		}
		bin = "/usr/bin/etcd"
	}
	client, peer := freePort(t), freePort(t)
	e := &ownEtcd{t: t, endpoint: client, args: []string{bin,
		"--name", "fleet", "--data-dir", filepath.Join(t.TempDir(), "data"),
		"--listen-client-urls", "http://" + client, "--advertise-client-urls", "http://" + client,
		"--listen-peer-urls", "http://" + peer, "--initial-advertise-peer-urls", "http://" + peer,
		"--initial-cluster", "fleet=http://" + peer,
		"--heartbeat-interval", "10", "--election-timeout", "100", "--log-level", "error",
	}}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs the server (again, on its data) and waits until it answers.
func (e *ownEtcd) start() {
	e.t.Helper()
	e.cmd = exec.Command(e.args[0], e.args[1:]...)
	if err := e.cmd.Start(); err != nil {
		unavailable(e.t, "start etcd: %v", err)
	}
	e.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { _ = cmd.Wait(); close(exited) }(e.cmd, e.exited)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.endpoint}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		e.t.Fatal(err)
	}
	defer cli.Close()
	eventually(e.t, 15*time.Second, "etcd serving", func() bool {
		select {
		case <-e.exited:
			e.t.Fatalf("etcd exited at start: %v", e.cmd.ProcessState)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := cli.Get(ctx, "health-probe")
		return err == nil
	})
}

// stop ends the server (SIGTERM, SIGKILL after 5s) and waits for it.
func (e *ownEtcd) stop() {
	if e.cmd == nil {
		return
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(5 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.exited
	}
	e.cmd = nil
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
