package main

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fastgate/gateway/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Three instances under a steady load across a compaction and an etcd
// restart: each published change serves on all three, no request fails,
// and what serves keeps serving while etcd is gone.
func TestFleetSurvivesCompactionAndEtcdRestart(t *testing.T) {
	e := etcdtest.Start(t)
	prefix := "/fleet/"
	if code, out := publishFile(t, e.Endpoint(), prefix, helloRoutes("one")); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	var fleet []*fleetInstance
	for i := range 3 {
		inst, _ := startFleetInstance(t, e.Endpoint(), prefix, filepath.Join(t.TempDir(), "fleet-"+strconv.Itoa(i)+".json"))
		fleet = append(fleet, inst)
	}
	for i, inst := range fleet {
		waitFor(t, "instance "+strconv.Itoa(i)+" ready", func() bool { return status(t, inst.admin.URL+"/readyz") == 200 })
	}
	stop := loadFleet(fleet, "one", "two", "three")
	defer func() {
		if sent, failed := stop(); sent == 0 || failed != 0 {
			t.Errorf("%d of %d requests failed", failed, sent)
		}
	}()
	cli := etcdtest.Client(t, e.Endpoint())
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
	if code, out := publishFile(t, e.Endpoint(), prefix, helloRoutes("two")); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	allServe(t, fleet, "the version after the compaction", "two", recoverWait)

	e.Stop()
	for i, inst := range fleet {
		waitFor(t, "instance "+strconv.Itoa(i)+" seeing etcd gone", func() bool { return !inst.src.Status().Reachable })
	}
	allServe(t, fleet, "the last version while etcd is gone", "two", fleetWait)
	e.Start()
	for i, inst := range fleet {
		waitFor(t, "instance "+strconv.Itoa(i)+" seeing etcd back", func() bool { return inst.src.Status().Reachable })
	}
	if code, out := publishFile(t, e.Endpoint(), prefix, helloRoutes("three")); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	allServe(t, fleet, "the version after the restart", "three", recoverWait)
}
