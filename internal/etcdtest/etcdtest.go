// Package etcdtest gives tests an etcd to talk to: the shared one that
// make test starts (scripts/services.sh), under a key prefix of the test's
// own, or a server of the test's own on free loopback ports, which it may
// compact, stop and restart without touching the shared one.
package etcdtest

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

// Unavailable skips the test, or fails it when REQUIRE_SERVICES is set
// (make test sets it: there a missing etcd is a failure).
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("REQUIRE_SERVICES") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (scripts/services.sh etcd starts one)")
}

// Client returns a client of endpoint, closed when the test ends.
func Client(t testing.TB, endpoint string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// Shared returns the shared test etcd ($ETCD_ENDPOINTS, else
// 127.0.0.1:2379), a client of it, and a key prefix of the test's own,
// deleted when the test ends.
func Shared(t testing.TB) (endpoint, prefix string, cli *clientv3.Client) {
	t.Helper()
	endpoint = os.Getenv("ETCD_ENDPOINTS")
	if endpoint == "" {
		endpoint = "127.0.0.1:2379"
	}
	endpoint, _, _ = strings.Cut(endpoint, ",")
	cli = Client(t, endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := cli.Get(ctx, "health-probe"); err != nil {
		Unavailable(t, "etcd at %s: %v", endpoint, err)
	}
	prefix = fmt.Sprintf("/gateway-test/%s-%d/", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = cli.Delete(ctx, prefix, clientv3.WithPrefix())
	})
	return endpoint, prefix, cli
}

// Server is an etcd server of one test's own, on free loopback ports,
// with fast elections (so the shortest lease is one second). Not safe
// for concurrent use.
type Server struct {
	t        testing.TB
	args     []string
	endpoint string
	cmd      *exec.Cmd
	exited   chan struct{}
}

// Start runs a Server, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/etcd"); serr != nil {
			Unavailable(t, "no etcd program: %v", err)
		}
		bin = "/usr/bin/etcd"
	}
	client, peer := FreeAddr(t), FreeAddr(t)
	clientURL, peerURL := "http://"+client, "http://"+peer
	s := &Server{t: t, endpoint: client, args: []string{
		bin,
		"--name", "test",
		"--data-dir", filepath.Join(t.TempDir(), "data"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "test=" + peerURL,
		"--heartbeat-interval", "10", "--election-timeout", "100",
		"--log-level", "error",
	}}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Endpoint is the server's client address, host:port.
func (s *Server) Endpoint() string { return s.endpoint }

// FreeAddr returns a loopback address where nothing listens (a port that
// was free a moment ago): an etcd that cannot be reached.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start runs the server again, on its data, and waits until it serves.
func (s *Server) Start() {
	s.t.Helper()
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	if err := s.cmd.Start(); err != nil {
		Unavailable(s.t, "start etcd: %v", err)
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(s.cmd, s.exited)

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.endpoint}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		s.t.Fatal(err)
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
		case <-s.exited:
			s.t.Fatalf("etcd exited at start: %v", s.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("etcd on %s not serving after 15s: %v", s.endpoint, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the server (SIGTERM, then SIGKILL after 5s) and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}
