package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/configsource/consul"
	"github.com/fastgate/gateway/configsource/etcd"
	"github.com/fastgate/gateway/gateway"
	"github.com/fastgate/gateway/metrics"
)

// fleetWait is how soon a published version must serve on every
// instance: the fleet promises a second.
const fleetWait = time.Second

// recoverWait bounds how soon an instance that lost its registry (a
// compaction, a restart, an outage) serves what was published meanwhile:
// it reconnects after a jittered backoff, so the bound only tells a
// recovery from none.
const recoverWait = 10 * time.Second

// fleetEtcd returns the test etcd and a prefix of the test's own,
// deleted at the end.
func fleetEtcd(t *testing.T) (endpoint, prefix string) {
	t.Helper()
	endpoint = needService(t, "etcd", "127.0.0.1:2379")
	prefix = "/gwtest-fleet-" + strings.ToLower(token(t)) + "/"
	t.Cleanup(func() {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return
		}
		defer cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = cli.Delete(ctx, prefix, clientv3.WithPrefix())
	})
	return endpoint, prefix
}

// fleetInstance is one gateway following the fleet's prefix, as
// `gateway run` wires it.
type fleetInstance struct {
	*bridgeGateway
	src interface {
		Status() metrics.ConfigSourceStatus
	}
}

// startFleetInstance starts an instance whose own file follows prefix at
// endpoint, keeping its copy in state. readyBefore is what /readyz
// answered before it began following.
func startFleetInstance(t *testing.T, endpoint, prefix, state string) (inst *fleetInstance, readyBefore int) {
	t.Helper()
	return startSourceInstance(t, `  etcd:
    endpoints: ["`+endpoint+`"]
    prefix: "`+prefix+`"
    request_timeout: 500ms
    state_file: "`+state+`"
`)
}

// startSourceInstance starts an instance whose own file has the
// config_source section source (indented by two).
func startSourceInstance(t *testing.T, source string) (inst *fleetInstance, readyBefore int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "instance.yaml")
	own := "admin: \"off\"\nconfig_source:\n" + source
	if err := os.WriteFile(path, []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, gateway.RouteConflicts)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := newGatewayFor(t, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := serveBridgeGateway(t, gw)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	follower, release, err := newFollower(cfg, nil, gw, log)
	if err != nil {
		t.Fatal(err)
	}
	gw.SetReloadFunc(follower.Reload) // as serve does
	readyBefore = status(t, b.admin.URL+"/readyz")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); defer release(); follower.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done }) // before the gateway shuts down
	var src interface {
		Status() metrics.ConfigSourceStatus
	}
	switch f := follower.(type) {
	case *etcd.Source[gateway.ReloadResult]:
		src = f
	case *consul.Source[gateway.ReloadResult]:
		src = f
	default:
		t.Fatalf("a file with a config_source is followed by %T", follower)
	}
	return &fleetInstance{bridgeGateway: b, src: src}, readyBefore
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func httpBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// body is what the instance answers on /hello ("" on failure).
func (f *fleetInstance) body() string {
	code, b, err := f.client.GetTimeout(nil, "http://"+f.addr+"/hello", 5*time.Second)
	if err != nil || code != 200 {
		return ""
	}
	return string(b)
}

// publishFile runs gateway publish on a file holding yaml.
func publishFile(t *testing.T, endpoint, prefix, yaml string, flags ...string) (code int, out string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := append([]string{"publish", "-endpoints", endpoint, "-prefix", prefix}, flags...)
	code = runMain(append(args, file), &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

func helloRoutes(body string) string {
	return `routes:
  - name: hello
    match: { path: /hello }
    respond: { body: "` + body + `" }
  - name: other
    match: { path: /other }
    respond: { body: "other" }
`
}

// Three instances follow one route set: a published change serves on all
// three within a second, with no failed request under a steady load; a
// version that fails validation is refused by all three, which keep
// serving the last good one and say so.
func TestFleetFollowsOneRouteSet(t *testing.T) {
	endpoint, prefix := fleetEtcd(t)
	if code, out := publishFile(t, endpoint, prefix, helloRoutes("one")); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	var fleet []*fleetInstance
	for i := range 3 {
		inst, _ := startFleetInstance(t, endpoint, prefix, filepath.Join(t.TempDir(), "fleet-"+strconv.Itoa(i)+".json"))
		fleet = append(fleet, inst)
	}
	for i, inst := range fleet {
		waitFor(t, "instance "+strconv.Itoa(i)+" ready", func() bool { return status(t, inst.admin.URL+"/readyz") == 200 })
		if got := inst.body(); got != "one" {
			t.Fatalf("instance %d answers %q, want one", i, got)
		}
	}

	// A bounded load: one client per instance, back to back.
	stop := loadFleet(fleet, "one", "two")
	if code, out := publishFile(t, endpoint, prefix, helloRoutes("two")); code != 0 {
		stop()
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	deadline := time.Now().Add(fleetWait)
	for i, inst := range fleet {
		for inst.body() != "two" {
			if time.Now().After(deadline) {
				t.Errorf("instance %d does not serve the published change within %v", i, fleetWait)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if sent, failed := stop(); sent == 0 || failed != 0 {
		t.Errorf("%d of %d requests failed during the change", failed, sent)
	}
	good := fleet[0].src.Status().Version

	// A version that does not validate, as a buggy publisher or etcdctl
	// could write it (gateway publish refuses it before writing).
	pub, err := etcd.NewPublisher(etcd.Conn{Endpoints: []string{endpoint}, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cur, err := pub.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := pub.Publish(ctx, map[string][]byte{"gateway.yaml": []byte(strings.Replace(helloRoutes("three"), `body: "other"`, `body: "other", status: 999`, 1))}, cur, "test")
	if err != nil {
		t.Fatal(err)
	}
	for i, inst := range fleet {
		waitFor(t, "instance "+strconv.Itoa(i)+" refusing the bad version", func() bool { return inst.src.Status().Refused == bad })
		if got := inst.body(); got != "two" {
			t.Errorf("instance %d answers %q after the bad version; want two, the last good one", i, got)
		}
		st := inst.src.Status()
		if st.Version != good || st.RefusedTotal != 1 {
			t.Errorf("instance %d: %+v", i, st)
		}
		cfg := httpBody(t, inst.admin.URL+"/-/config")
		wantServing := "serving version " + strconv.FormatInt(good, 10)
		wantRefused := "version " + strconv.FormatInt(bad, 10) + " refused: " + prefix + "versions/" + strconv.FormatInt(bad, 10) + "/files/gateway.yaml:7:"
		if !strings.Contains(cfg, wantServing) || !strings.Contains(cfg, wantRefused) {
			t.Errorf("instance %d /-/config does not say %q and %q:\n%s", i, wantServing, wantRefused, firstLines(cfg, 3))
		}
		if v := inst.metric(t, `gateway_config_source_refused_version{source="etcd"}`); v != float64(bad) {
			t.Errorf("instance %d gateway_config_source_refused_version = %v; want %d", i, v, bad)
		}
		if v := inst.metric(t, `gateway_config_source_version{source="etcd"}`); v != float64(good) {
			t.Errorf("instance %d gateway_config_source_version = %v; want %d", i, v, good)
		}
	}
}

// loadFleet sends requests to every instance's /hello, one client per
// instance back to back, until the returned stop is called; stop says
// how many were sent and how many were not answered with one of bodies.
func loadFleet(fleet []*fleetInstance, bodies ...string) (stop func() (sent, failed int64)) {
	var sentN, failedN atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, inst := range fleet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				sentN.Add(1)
				if !slices.Contains(bodies, inst.body()) {
					failedN.Add(1)
				}
			}
		}()
	}
	return func() (int64, int64) {
		close(done)
		wg.Wait()
		return sentN.Load(), failedN.Load()
	}
}

// allServe waits until every instance answers body on /hello, at most
// within from now.
func allServe(t *testing.T, fleet []*fleetInstance, what, body string, within time.Duration) {
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

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// An instance started while etcd does not answer serves the copy on disk
// that an earlier run kept; /readyz is 503 until it does.
func TestFleetInstanceStartsFromItsCopy(t *testing.T) {
	endpoint, prefix := fleetEtcd(t)
	if code, out := publishFile(t, endpoint, prefix, helloRoutes("kept")); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	state := filepath.Join(t.TempDir(), "state", "fleet.json")
	first, before := startFleetInstance(t, endpoint, prefix, state)
	if before != http.StatusServiceUnavailable {
		t.Errorf("/readyz before a version serves: %d; want 503", before)
	}
	waitFor(t, "the copy on disk", func() bool { _, err := os.Stat(state); return err == nil && first.body() == "kept" })

	// The same prefix on an etcd that is not there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	inst, before := startFleetInstance(t, down, prefix, state)
	if before != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the copy serves: %d; want 503", before)
	}
	waitFor(t, "ready from the copy", func() bool { return status(t, inst.admin.URL+"/readyz") == 200 })
	if got := inst.body(); got != "kept" {
		t.Errorf("serving %q from the copy; want kept", got)
	}
	if cfg := httpBody(t, inst.admin.URL+"/-/config"); !strings.Contains(cfg, "from the copy on disk; the source does not answer") {
		t.Errorf("/-/config does not say it serves the copy:\n%s", firstLines(cfg, 2))
	}
	if v := inst.metric(t, `gateway_config_source_from_disk{source="etcd"}`); v != 1 {
		t.Errorf("gateway_config_source_from_disk = %v; want 1", v)
	}
	if v := inst.metric(t, `gateway_config_source_up{source="etcd"}`); v != 0 {
		t.Errorf("gateway_config_source_up = %v; want 0", v)
	}
}

// gateway publish validates as validate does, shows the per-route diff
// against what the fleet serves, and refuses to publish over a version
// it did not start from.
func TestPublishCommand(t *testing.T) {
	endpoint, prefix := fleetEtcd(t)
	code, out := publishFile(t, endpoint, prefix, "routes:\n  - name: hello\n    match: { paht: /x }\n    respond: { body: x }\n")
	if code != 1 || !strings.Contains(out, `routes.yaml:3:14: routes[0].match: unknown field "paht"`) {
		t.Errorf("an invalid file: exit %d\n%s", code, out)
	}
	if code, out := publishFile(t, endpoint, prefix, helloRoutes("one")); code != 0 || !strings.Contains(out, "published version 1 (was 0)") {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	next := strings.Replace(helloRoutes("two"), "  - name: other\n    match: { path: /other }\n    respond: { body: \"other\" }\n",
		"  - name: added\n    match: { path: /added }\n    respond: { body: added }\n", 1)
	code, out = publishFile(t, endpoint, prefix, next, "-dry-run")
	for _, want := range []string{"against version 1", "~ route hello (changed)", "+ route added (added)", "- route other (removed)", "dry run: nothing was published"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("publish -dry-run: exit %d, want %q in\n%s", code, want, out)
		}
	}
	// Another operator published version 2 after this one looked at 1.
	if code, out := publishFile(t, endpoint, prefix, helloRoutes("theirs")); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	code, out = publishFile(t, endpoint, prefix, next, "-expect", "1")
	if code != 1 || !strings.Contains(out, "current version is 2, not 1") {
		t.Errorf("publish -expect 1 over version 2: exit %d\n%s", code, out)
	}
	if code, out := publishFile(t, endpoint, prefix, next, "-expect", "2"); code != 0 || !strings.Contains(out, "published version 3 (was 2)") {
		t.Errorf("publish -expect 2: exit %d\n%s", code, out)
	}
}

// A version that leaves a route as it was leaves the route's state as it
// was: a republished identical set rebuilds nothing, and a change of one
// route rebuilds only that one (the rate limit's spent bucket shows it).
func TestFleetCarriesUnchangedRoutesOver(t *testing.T) {
	endpoint, prefix := fleetEtcd(t)
	limited := func(burst, hello string) string {
		return helloRoutes(hello) + `  - name: limited
    match: { path: /limited }
    rate_limit: { rate: 1/h, burst: ` + burst + ` }
    respond: { body: "ok" }
`
	}
	if code, out := publishFile(t, endpoint, prefix, limited("1", "one")); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	inst, _ := startFleetInstance(t, endpoint, prefix, filepath.Join(t.TempDir(), "fleet.json"))
	waitFor(t, "ready", func() bool { return status(t, inst.admin.URL+"/readyz") == 200 })
	code := func() int {
		c, _, err := inst.client.GetTimeout(nil, "http://"+inst.addr+"/limited", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c1, c2 := code(), code(); c1 != 200 || c2 != 429 {
		t.Fatalf("the limited route answered %d then %d; want 200 then 429", c1, c2)
	}
	republish := func(yaml string, version int64) {
		t.Helper()
		if c, out := publishFile(t, endpoint, prefix, yaml); c != 0 {
			t.Fatalf("publish: exit %d\n%s", c, out)
		}
		waitFor(t, "version "+strconv.FormatInt(version, 10), func() bool { return inst.src.Status().Version == version })
	}
	republish(limited("1", "one"), 2)
	if c := code(); c != 429 {
		t.Errorf("after an identical version the limited route answers %d; want 429 (its bucket kept)", c)
	}
	republish(limited("1", "two"), 3)
	if c := code(); c != 429 || inst.body() != "two" {
		t.Errorf("after another route changed the limited route answers %d (want 429) and hello %q", c, inst.body())
	}
	republish(limited("2", "two"), 4)
	if c := code(); c != 200 {
		t.Errorf("after the limited route changed it answers %d; want 200 (a fresh bucket)", c)
	}

	// POST /-/reload reads the current version again.
	for _, tt := range []struct{ query, want string }{
		{"?dry_run=true", `"dry_run": true`},
		{"", `"applied": true`},
	} {
		resp, err := http.Post(inst.admin.URL+"/-/reload"+tt.query, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), tt.want) || !strings.Contains(string(body), `"unchanged": 3`) {
			t.Errorf("POST /-/reload%s: %d %s", tt.query, resp.StatusCode, body)
		}
	}
}
