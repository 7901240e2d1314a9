package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// ownEtcd is an etcd server of one test's own on free loopback ports, to
// compact and restart without touching the shared one.
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
		bin = "/usr/bin/etcd"
		if _, serr := os.Stat(bin); serr != nil {
			if os.Getenv("REQUIRE_SERVICES") != "" {
				t.Fatalf("no etcd program: %v (REQUIRE_SERVICES is set)", err)
			}
			t.Skipf("no etcd program: %v", err)
		}
	}
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	client, peer := free(), free()
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

// start runs the server (again, on its data) and waits until it answers.
func (e *ownEtcd) start() {
	e.t.Helper()
	e.cmd = exec.Command(e.args[0], e.args[1:]...)
	if err := e.cmd.Start(); err != nil {
		e.t.Fatalf("start etcd: %v", err)
	}
	e.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { _ = cmd.Wait(); close(exited) }(e.cmd, e.exited)
	cli := e.client()
	defer cli.Close()
	waitFor(e.t, "etcd serving", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := cli.Get(ctx, "health-probe")
		return err == nil
	})
}

func (e *ownEtcd) client() *clientv3.Client {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.endpoint}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		e.t.Fatal(err)
	}
	return cli
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

// Three instances under a steady load across a compaction and an etcd
// restart: each published change serves on all three, no request fails,
// and what serves keeps serving while etcd is gone.
func TestFleetSurvivesCompactionAndEtcdRestart(t *testing.T) {
	e := startOwnEtcd(t)
	prefix := "/fleet/"
	if code, out := publishFile(t, e.endpoint, prefix, helloRoutes("one")); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	var fleet []*fleetInstance
	for i := range 3 {
		inst, _ := startFleetInstance(t, e.endpoint, prefix, filepath.Join(t.TempDir(), "fleet-"+strconv.Itoa(i)+".json"))
		fleet = append(fleet, inst)
	}
	for i, inst := range fleet {
		waitFor(t, "instance "+strconv.Itoa(i)+" ready", func() bool { return status(t, inst.admin.URL+"/readyz") == 200 })
	}
	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, inst := range fleet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				if inst.body() == "" {
					failed.Add(1)
				}
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
		if sent.Load() == 0 || failed.Load() != 0 {
			t.Errorf("%d of %d requests failed", failed.Load(), sent.Load())
		}
	}()
	allServe := func(what, body string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for i, inst := range fleet {
			for inst.body() != body {
				if time.Now().After(deadline) {
					t.Fatalf("instance %d does not serve %s within %v", i, what, within)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}

	cli := e.client()
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rev int64
	for range 10 {
		resp, err := cli.Put(ctx, prefix+"unrelated", "x")
		if err != nil {
			t.Fatal(err)
		}
		rev = resp.Header.Revision
	}
	if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	if code, out := publishFile(t, e.endpoint, prefix, helloRoutes("two")); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	allServe("the version after the compaction", "two", fleetWait)

	e.stop()
	for i, inst := range fleet {
		waitFor(t, "instance "+strconv.Itoa(i)+" seeing etcd gone", func() bool { return !inst.src.Status().Reachable })
	}
	allServe("the last version while etcd is gone", "two", fleetWait)
	e.start()
	for i, inst := range fleet {
		waitFor(t, "instance "+strconv.Itoa(i)+" seeing etcd back", func() bool { return inst.src.Status().Reachable })
	}
	if code, out := publishFile(t, e.endpoint, prefix, helloRoutes("three")); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	allServe("the version after the restart", "three", fleetWait)
}
