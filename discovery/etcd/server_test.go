package etcd

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// unavailable skips the test, or fails it when REQUIRE_SERVICES is set
// (make test sets it: there a missing etcd is a failure).
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("REQUIRE_SERVICES") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (scripts/services.sh etcd starts one)")
}

// newClient returns a client of endpoint for the test's own writes.
func newClient(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// sharedEtcd returns the address of the test etcd ($ETCD_ENDPOINTS, else
// 127.0.0.1:2379) and a key prefix of the test's own, deleted afterwards.
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
	prefix = fmt.Sprintf("/gateway-test/%s-%d/", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = cli.Delete(ctx, prefix, clientv3.WithPrefix())
	})
	return endpoint, prefix, cli
}

// ownEtcd is an etcd server of one test's own, on free loopback ports,
// with fast elections (so the shortest lease is one second).
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
	clientURL, peerURL := "http://"+client, "http://"+peer
	e := &ownEtcd{t: t, endpoint: client, args: []string{
		bin,
		"--name", "test",
		"--data-dir", filepath.Join(t.TempDir(), "data"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "test=" + peerURL,
		"--heartbeat-interval", "10", "--election-timeout", "100",
		"--log-level", "error",
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

// start runs the server (again, on its data) and waits until it serves.
func (e *ownEtcd) start() {
	e.t.Helper()
	e.cmd = exec.Command(e.args[0], e.args[1:]...)
	e.cmd.Stdout, e.cmd.Stderr = nil, nil
	if err := e.cmd.Start(); err != nil {
		unavailable(e.t, "start etcd: %v", err)
	}
	e.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(e.cmd, e.exited)

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.endpoint}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		e.t.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, err := cli.Get(ctx, "health-probe")
		cancel()
		if err == nil {
			return
		}
		select {
		case <-e.exited:
			e.t.Fatalf("etcd exited at start: %v", e.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("etcd on %s not serving after 15s: %v", e.endpoint, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the server (SIGTERM, then SIGKILL after 5s) and waits.
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
