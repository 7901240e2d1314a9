package tour

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fastgate/gateway/internal/consultest"
	"github.com/fastgate/gateway/internal/etcdtest"
)

// fleetState is what a fleet tour published and started.
type fleetState struct {
	// etcd is a client of the shared test etcd, when the tour uses it.
	etcd *clientv3.Client
	// version is the version the fleet's current key names, as the tour
	// last set it (a publish, a put of current); 0 before the first.
	version int64
	// instance is set once a gateway that follows a config_source runs.
	instance bool
}

// etcdFleet points configs/fleet.yaml and the commands that name etcd at
// the shared test etcd, under a key prefix of this run's own (deleted
// when the test ends) instead of /gateway/config/, and keeps the
// instance's copy on disk in the run's directory.
func etcdFleet(t *testing.T, r *run) {
	endpoint, prefix, cli := etcdtest.Shared(t)
	r.fleet.etcd = cli
	r.replace = append(r.replace,
		"127.0.0.1:2379", endpoint,
		"/gateway/config/", prefix,
		"/tmp/gateway-fleet-config.json", filepath.Join(r.dir, "fleet-config.json"))
}

// consulFleet serves a Consul KV of this run's own (internal/consultest,
// since no Consul can be installed here) on the port that stands for
// 127.0.0.1:8500, and keeps the instance's copy on disk in the run's
// directory.
func consulFleet(t *testing.T, r *run) {
	kv := consultest.NewKV(t)
	_, port, err := net.SplitHostPort(kv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	r.ports["8500"] = port
	r.replace = append(r.replace,
		"/tmp/gateway-fleet-consul-config.json", filepath.Join(r.dir, "fleet-config.json"))
}

// subst rewrites s as the configurations are: this run's ports and
// services.
func (r *run) subst(s string) string {
	return strings.NewReplacer(r.replace...).Replace(r.rewrite(s))
}

// fleetCommand runs a command that publishes to a fleet or moves its
// current version: bin/gateway publish (the binary, on a copy of -source
// rewritten as for run), and the registries' command-line tools, which
// are not installed here, through their APIs: etcdctl put KEY VALUE and
// etcdctl del --prefix KEY with the etcd client, consul kv put KEY VALUE
// with Consul's HTTP API, printing what they print. When the fleet's
// current version changes while an instance runs, it waits (bounded)
// until the instance serves it, as one second does for a human.
func (r *run) fleetCommand(t *testing.T, c command, words []string) []byte {
	t.Helper()
	switch {
	case words[0] == "bin/gateway":
		return r.publish(t, c, words[1:])
	case words[0] == "etcdctl":
		return r.etcdctl(t, c, words[1:])
	case len(words) == 5 && words[1] == "kv" && words[2] == "put":
		return r.consulPut(t, c, words[3], words[4])
	}
	t.Fatalf("%s: %q: a command the tour test does not know", c.pos, c.line)
	return nil
}

// publishedRE is what gateway publish prints when it published.
var publishedRE = regexp.MustCompile(`(?m)^published version (\d+) `)

// publish runs gateway publish ARGS. A failure is what the tour expects
// when it says what the command prints.
func (r *run) publish(t *testing.T, c command, words []string) []byte {
	t.Helper()
	args := make([]string, len(words))
	for i, w := range words {
		if i > 0 && words[i-1] == "-source" {
			args[i] = r.config(t, w)
			continue
		}
		args[i] = r.subst(w)
	}
	cmd := exec.Command(filepath.Join(r.bin, "gateway"), args...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), r.env...)
	out, err := cmd.CombinedOutput()
	if err != nil && len(c.expect) == 0 {
		t.Errorf("%s: %s: %v\n%s", c.pos, c.line, err, out)
	}
	if m := publishedRE.FindSubmatch(out); m != nil {
		n, _ := strconv.ParseInt(string(m[1]), 10, 64)
		r.setVersion(t, c, n)
	}
	return out
}

// etcdctl does etcdctl put KEY VALUE and etcdctl del --prefix KEY.
func (r *run) etcdctl(t *testing.T, c command, args []string) []byte {
	t.Helper()
	if r.fleet.etcd == nil {
		t.Fatalf("%s: %q: the tour has no etcd (setup etcdFleet)", c.pos, c.line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	switch {
	case len(args) == 3 && args[0] == "put":
		if _, err := r.fleet.etcd.Put(ctx, r.subst(args[1]), args[2]); err != nil {
			t.Fatalf("%s: %s: %v", c.pos, c.line, err)
		}
		r.currentSet(t, c, args[1], args[2])
		return []byte("OK\n")
	case len(args) == 3 && args[0] == "del" && args[1] == "--prefix":
		resp, err := r.fleet.etcd.Delete(ctx, r.subst(args[2]), clientv3.WithPrefix())
		if err != nil {
			t.Fatalf("%s: %s: %v", c.pos, c.line, err)
		}
		return []byte(strconv.FormatInt(resp.Deleted, 10) + "\n")
	}
	t.Fatalf("%s: %q: only etcdctl put KEY VALUE and del --prefix KEY are known", c.pos, c.line)
	return nil
}

// consulPut does consul kv put KEY VALUE with the agent at
// $CONSUL_HTTP_ADDR (default 127.0.0.1:8500), as the consul command does.
func (r *run) consulPut(t *testing.T, c command, key, value string) []byte {
	t.Helper()
	addr := os.Getenv("CONSUL_HTTP_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8500"
	}
	url := "http://" + r.rewrite(addr) + "/v1/kv/" + r.subst(key)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, url, strings.NewReader(value))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("%s: %s: %v", c.pos, c.line, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "true" {
		t.Fatalf("%s: %s: %s %s", c.pos, c.line, resp.Status, body)
	}
	r.currentSet(t, c, key, value)
	return []byte("Success! Data written to: " + key + "\n")
}

// currentSet notes a write of key: when it is the fleet's current key,
// the fleet serves the version value names.
func (r *run) currentSet(t *testing.T, c command, key, value string) {
	t.Helper()
	if !strings.HasSuffix(key, "/current") {
		return
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		t.Fatalf("%s: %q: current is not a version number", c.pos, c.line)
	}
	r.setVersion(t, c, n)
}

// setVersion notes that the fleet's current version is n, and waits
// until a running instance serves it.
func (r *run) setVersion(t *testing.T, c command, n int64) {
	t.Helper()
	r.fleet.version = n
	if r.fleet.instance {
		r.waitVersion(t, c)
	}
}

// follows reports whether the gateway's arguments name a configuration
// that follows a config_source.
func (r *run) follows(t *testing.T, args []string) bool {
	t.Helper()
	for i, a := range args {
		if a == "-config" && i+1 < len(args) {
			b, err := os.ReadFile(args[i+1])
			if err != nil {
				t.Fatal(err)
			}
			return bytes.Contains(b, []byte("\nconfig_source:"))
		}
	}
	return false
}

// instanceStarted notes that an instance of the fleet runs, and waits
// until it serves the version the tour published, if any.
func (r *run) instanceStarted(t *testing.T, c command) {
	t.Helper()
	r.fleet.instance = true
	if r.fleet.version > 0 {
		r.waitVersion(t, c)
	}
}

// waitVersion waits (bounded) until the instance's admin listener says
// it serves the fleet's current version.
func (r *run) waitVersion(t *testing.T, c command) {
	t.Helper()
	url := "http://127.0.0.1:" + r.ports["9901"] + "/metrics"
	want := " " + strconv.FormatInt(r.fleet.version, 10)
	var last string
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := r.client.Get(url); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "gateway_config_source_version{") {
					last = l
					if strings.HasSuffix(l, want) {
						return
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s: the instance does not serve version %d after 15s (%s)", c.pos, c.line, r.fleet.version, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
