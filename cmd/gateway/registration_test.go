package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/fastgate/gateway/internal/consultest"
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

// TestBinaryRegistersWithConsul runs the binary against a Consul agent
// (internal/consultest, from recorded answers): it registers with its
// check on its own admin /readyz and its version in the metadata, the
// agent's check of the real /readyz passes, and it counts itself. On
// SIGTERM the deregistration comes first: when it reaches the agent the
// instance's /readyz still answers 200; only then does it turn 503, while
// the instance serves its shutdown delay.
func TestBinaryRegistersWithConsul(t *testing.T) {
	agent := consultest.NewServiceAgent(t)
	bin := buildBinary(t)
	admin := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "g.yaml")
	if err := os.WriteFile(cfg, []byte(`listen: "127.0.0.1:0"
admin: "`+admin+`"
server: { shutdown_delay: 2s }
discovery:
  consul: { address: "http://`+agent.Addr()+`", wait_time: 1s }
registration:
  registry: consul
  service: edge
  id: gw-c
  port: 18010
  tags: [blue]
  check: { interval: 1s, timeout: 500ms, deregister_after: 1m }
routes:
  - { name: hello, match: { path: /hello }, respond: { body: "hi" } }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, addr := startBinary(t, bin, cfg)
	deadline := time.Now().Add(10 * time.Second)
	for len(agent.Registered()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no registration within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var reg map[string]any
	consultest.DecodeJSON(t, agent.Registered()[0], &reg)
	check := consultest.Obj(reg, "Check")
	if got := consultest.Str(check, "HTTP"); got != "http://"+admin+"/readyz" {
		t.Errorf("check URL %q, want the admin /readyz", got)
	}
	if got := consultest.Str(consultest.Obj(reg, "Meta"), "version"); got != "v9.9.9-test" {
		t.Errorf("Meta.version %q, want the binary's", got)
	}
	if reg["ID"] != "gw-c" || reg["Name"] != "edge" || reg["Address"] != "127.0.0.1" || reg["Port"] != json.Number("18010") {
		t.Errorf("registered %v", reg)
	}

	agent.RunChecks()
	metrics := func() string { return httpBody(t, "http://"+admin+"/metrics") }
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(metrics(), "\n"+`gateway_registration_instances{registry="consul"} 1`+"\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the instance never counted itself passing:\n%s", metrics())
		}
		time.Sleep(20 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for len(agent.Deregistered()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no deregistration within 5s of SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := agent.Deregistered()[0]; d.ID != "gw-c" || d.Check != "passing" {
		t.Errorf("deregistration %+v: want gw-c, arriving while its /readyz still passed", d)
	}
	deadline = time.Now().Add(5 * time.Second)
	for status(t, "http://"+admin+"/readyz") != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("/readyz not 503 within 5s of SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp := get(t, addr, "/hello"); !strings.HasPrefix(resp, "HTTP/1.1 200") {
		t.Errorf("not serving during the shutdown delay: %q", resp)
	}
}
