package registration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fastgate/gateway/internal/etcdtest"
	"github.com/fastgate/gateway/internal/logtest"
)

// etcdSettings registers instance id of "gateway" on port under prefix.
func etcdSettings(endpoint, prefix, id string, port int) Settings {
	return Settings{
		Instance: Instance{Service: "gateway", ID: id, Address: "127.0.0.1", Port: port,
			Meta: map[string]string{"version": "v1.2.3"}},
		Etcd: &EtcdSettings{
			Endpoints: []string{endpoint}, Prefix: prefix, TTL: time.Second,
			DialTimeout: time.Second, RequestTimeout: 500 * time.Millisecond, ProgressInterval: 300 * time.Millisecond,
		},
	}
}

func getKey(t *testing.T, cli *clientv3.Client, key string) *clientv3.GetResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestEtcdCountFollowsJoinAndLeave: three instances register in the
// shared etcd; each writes its key (the value discovery's etcd watcher
// reads) under a lease, and each counts three. One deregisters: its
// lease is revoked and its key gone at once, and the others count two.
// One that closes without deregistering, as a crash, leaves when its
// lease runs out.
func TestEtcdCountFollowsJoinAndLeave(t *testing.T) {
	endpoint, prefix, cli := etcdtest.Shared(t)
	var rs []*Registration
	for i, id := range []string{"gw-1", "gw-2", "gw-3"} {
		rs = append(rs, start(t, etcdSettings(endpoint, prefix, id, 8081+i), nil))
	}
	counts(t, 3, rs...)
	for _, r := range rs {
		if !r.Status().Registered || !r.Status().Reachable || r.Status().Registry != "etcd" {
			t.Errorf("status %+v", r.Status())
		}
	}
	resp := getKey(t, cli, prefix+"gateway/gw-2")
	if len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("gw-2's key: %v, want one key under a lease", resp.Kvs)
	}
	var v struct {
		Address  string            `json:"address"`
		Port     int               `json:"port"`
		Metadata map[string]string `json:"metadata"`
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &v); err != nil || v.Address != "127.0.0.1" || v.Port != 8082 || v.Metadata["version"] != "v1.2.3" {
		t.Errorf("gw-2's value %s (%v)", resp.Kvs[0].Value, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rs[2].Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(getKey(t, cli, prefix+"gateway/gw-3").Kvs); n != 0 {
		t.Error("gw-3's key is still there after Deregister")
	}
	counts(t, 2, rs[0], rs[1])

	// gw-2 crashes: its key stays until its lease (1s, or the server's
	// minimum) runs out.
	if err := rs[1].Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(getKey(t, cli, prefix+"gateway/gw-2").Kvs); n != 1 {
		t.Error("gw-2's key went at once without a deregistration")
	}
	counts(t, 1, rs[0])
}

// TestEtcdLeaseLoss: a lease revoked under a running instance (by an
// operator, or lost with etcd) is replaced: the instance registers again
// under a new lease; its key deleted by hand is written again too.
func TestEtcdLeaseLoss(t *testing.T) {
	endpoint, prefix, cli := etcdtest.Shared(t)
	var logs logtest.Buffer
	r := start(t, etcdSettings(endpoint, prefix, "gw-1", 8081), &logs)
	other := start(t, etcdSettings(endpoint, prefix, "gw-2", 8082), nil)
	counts(t, 2, r, other)
	key := prefix + "gateway/gw-1"
	lease := getKey(t, cli, key).Kvs[0].Lease

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := cli.Revoke(ctx, clientv3.LeaseID(lease)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "gw-1 under a new lease", func() bool {
		kvs := getKey(t, cli, key).Kvs
		return len(kvs) == 1 && kvs[0].Lease != lease
	})
	counts(t, 2, r, other)
	if logs.Count("registration: registration lost") != 1 {
		t.Errorf("the lost lease logged %d times, want 1:\n%s", logs.Count("registration: registration lost"), logs.String())
	}

	lease = getKey(t, cli, key).Kvs[0].Lease
	if _, err := cli.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "gw-1's key written again", func() bool {
		kvs := getKey(t, cli, key).Kvs
		return len(kvs) == 1 && kvs[0].Lease != lease
	})
	counts(t, 2, r, other)
	// The old lease, without its key now, is revoked, not left to run out.
	ttl, err := cli.TimeToLive(ctx, clientv3.LeaseID(lease))
	if err != nil {
		t.Fatal(err)
	}
	if ttl.TTL > 0 {
		t.Errorf("the replaced lease still lives (TTL %ds)", ttl.TTL)
	}
}

// TestEtcdRestart: etcd stops under a registered instance and starts
// again: the instance serves on (the count keeps its last value), logs
// the outage once when it starts and once when it ends, and is
// registered and counted again afterwards.
func TestEtcdRestart(t *testing.T) {
	srv := etcdtest.Start(t)
	var logs logtest.Buffer
	r := start(t, etcdSettings(srv.Endpoint(), "/services/", "gw-1", 8081), &logs)
	other := start(t, etcdSettings(srv.Endpoint(), "/services/", "gw-2", 8082), nil)
	counts(t, 2, r, other)

	srv.Stop()
	eventually(t, 10*time.Second, "the outage seen", func() bool { return !r.Status().Reachable })
	if r.Count() != 2 {
		t.Errorf("count %d while etcd is down, want the last one, 2", r.Count())
	}
	srv.Start()
	eventually(t, 15*time.Second, "reachable and registered again", func() bool {
		st := r.Status()
		return st.Reachable && st.Registered
	})
	counts(t, 2, r, other)
	cli := etcdtest.Client(t, srv.Endpoint())
	if n := len(getKey(t, cli, "/services/gateway/gw-1").Kvs); n != 1 {
		t.Errorf("gw-1's key after the restart: %d, want 1", n)
	}
	if n := logs.Count("registration: registry unreachable"); n != 1 {
		t.Errorf("outage start logged %d times, want 1:\n%s", n, logs.String())
	}
	if n := logs.Count("registration: registry reachable again"); n != 1 {
		t.Errorf("outage end logged %d times, want 1:\n%s", n, logs.String())
	}
}

// TestEtcdDownAtStart: an etcd that does not answer never blocks Start
// or Close; the count stays unknown (0).
func TestEtcdDownAtStart(t *testing.T) {
	began := time.Now()
	r := start(t, etcdSettings(etcdtest.FreeAddr(t), "/services/", "gw-1", 8081), nil)
	if d := time.Since(began); d > time.Second {
		t.Errorf("Start took %v with etcd down", d)
	}
	eventually(t, 10*time.Second, "the outage seen", func() bool { return !r.Status().Reachable })
	if r.Count() != 0 || r.Status().Registered {
		t.Errorf("count %d, status %+v; want 0, not registered", r.Count(), r.Status())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	began = time.Now()
	_ = r.Deregister(ctx) // nothing registered: nothing to remove
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("Deregister and Close took %v with etcd down", d)
	}
}
