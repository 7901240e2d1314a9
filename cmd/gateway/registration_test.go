package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// TestBinaryRegistersInEtcd runs two gateway binaries that register in
// the test etcd, with a cluster rate limit whose Redis is down: each
// registers its key, counts two instances (gateway_registration_instances)
// and admits half of the burst at once (the local fallback's share of
// the live count, not of rate_limit.instances). On SIGTERM an instance
// deregisters first, while it still serves its shutdown delay, and the
// other then counts one and admits the whole burst.
func TestBinaryRegistersInEtcd(t *testing.T) {
	endpoint, prefix := fleetEtcd(t)
	bin := buildBinary(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	keys := func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := cli.Get(ctx, prefix+"edge/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, kv := range resp.Kvs {
			out = append(out, strings.TrimPrefix(string(kv.Key), prefix+"edge/"))
		}
		return out
	}

	redisDown := freeAddr(t) // nothing listens there
	type instance struct {
		id, addr, admin string
		proc            *os.Process
	}
	var insts []*instance
	for i, id := range []string{"gw-a", "gw-b"} {
		admin := freeAddr(t)
		cfg := filepath.Join(t.TempDir(), "g.yaml")
		if err := os.WriteFile(cfg, []byte(`listen: "127.0.0.1:0"
admin: "`+admin+`"
server: { shutdown_delay: 2s }
discovery:
  etcd: { endpoints: ["`+endpoint+`"], prefix: "`+prefix+`" }
redis: { address: "`+redisDown+`", timeout: 50ms }
registration:
  registry: etcd
  service: edge
  id: `+id+`
  port: `+strconv.Itoa(18000+i)+`
  ttl: 2s
routes:
  - name: limited
    match: { path: /limited }
    respond: { body: "ok" }
    rate_limit: { rate: 1, burst: 10, scope: cluster, instances: 5 }
`), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd, addr := startBinary(t, bin, cfg)
		insts = append(insts, &instance{id: id, addr: addr, admin: admin, proc: cmd.Process})
	}
	metric := func(in *instance) string {
		return httpBody(t, "http://"+in.admin+"/metrics")
	}
	waitMetric := func(in *instance, line string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(metric(in), "\n"+line+"\n") {
			if time.Now().After(deadline) {
				t.Fatalf("%s: /metrics has no line %q within 10s", in.id, line)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	admitted := func(in *instance) int {
		n := 0
		for range 20 {
			if strings.HasPrefix(get(t, in.addr, "/limited"), "HTTP/1.1 200") {
				n++
			}
		}
		return n
	}

	for _, in := range insts {
		waitMetric(in, `gateway_registration_instances{registry="etcd"} 2`)
		waitMetric(in, `gateway_registration_registered{registry="etcd"} 1`)
	}
	if got := keys(); strings.Join(got, ",") != "gw-a,gw-b" {
		t.Fatalf("keys under %sedge/: %q, want gw-a and gw-b", prefix, got)
	}
	// Redis is down: the route's burst of 10 is shared by the 2 live
	// instances (rate_limit.instances says 5, which would give 2).
	if n := admitted(insts[0]); n != 5 {
		t.Errorf("gw-a admitted %d of 20 at once, want 5 (burst 10 / 2 instances)", n)
	}

	// gw-b stops: out of etcd first, while it still serves its delay.
	if err := insts[1].proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Join(keys(), ",") != "gw-a" {
		if time.Now().After(deadline) {
			t.Fatalf("gw-b's key still there 5s after SIGTERM: %q", keys())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Still in its shutdown delay (2s): it answers on its listener.
	if resp := get(t, insts[1].addr, "/limited"); !strings.HasPrefix(resp, "HTTP/1.1 ") {
		t.Errorf("gw-b no longer serves once its key is gone: deregistration is not first (%q)", resp)
	}
	waitMetric(insts[0], `gateway_registration_instances{registry="etcd"} 1`)
	if n := admitted(insts[0]); n != 10 {
		t.Errorf("gw-a, alone, admitted %d of 20 at once, want the whole burst, 10", n)
	}
}
