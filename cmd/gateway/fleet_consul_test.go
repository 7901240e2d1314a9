package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fastgate/gateway/configsource"
	"github.com/fastgate/gateway/internal/consultest"
)

// consulSource is the config_source section of an instance following
// prefix on the fake Consul at addr, its copy in state.
func consulSource(addr, prefix, state string) string {
	return `  consul:
    address: "http://` + addr + `"
    prefix: "` + prefix + `"
    wait_time: 1s
    timeout: 1s
    state_file: "` + state + `"
`
}

// publishConsul runs gateway publish -consul on a file holding yaml.
func publishConsul(t *testing.T, addr, prefix, yaml string, flags ...string) (code int, out string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := append([]string{"publish", "-consul", "http://" + addr, "-prefix", prefix}, flags...)
	code = runMain(append(args, file), &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

// Three instances follow one route set in Consul KV (the recorded
// agent's answers): a published change serves on all three within a
// second, with no failed request under a steady load, a refused
// version leaves all three on the last good one, Consul gone and back
// changes nothing that serves, and an instance started while Consul is
// gone serves its copy on disk.
func TestFleetFollowsConsulKV(t *testing.T) {
	kv := consultest.NewKV(t)
	const prefix = "fleet/"
	if code, out := publishConsul(t, kv.Addr(), prefix, helloRoutes("one")); code != 0 || !strings.Contains(out, "published version 1 (was 0)") {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	states := make([]string, 3)
	var fleet []*fleetInstance
	for i := range 3 {
		states[i] = filepath.Join(t.TempDir(), "fleet-"+strconv.Itoa(i)+".json")
		inst, before := startSourceInstance(t, consulSource(kv.Addr(), prefix, states[i]))
		if before != http.StatusServiceUnavailable {
			t.Errorf("instance %d /readyz before a version: %d; want 503", i, before)
		}
		fleet = append(fleet, inst)
	}
	allServe(t, fleet, "version 1", "one", fleetWait)
	// A steady load through the whole test: no request fails.
	stop := loadFleet(fleet, "one", "two", "four")
	defer func() {
		if sent, failed := stop(); sent == 0 || failed != 0 {
			t.Errorf("%d of %d requests failed", failed, sent)
		}
	}()
	if code, out := publishConsul(t, kv.Addr(), prefix, helloRoutes("two")); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	allServe(t, fleet, "the published change", "two", fleetWait)

	// A version that does not validate, written as consul kv put could.
	bad := []byte(strings.Replace(helloRoutes("three"), `body: "other"`, `body: "other", status: 999`, 1))
	kv.Put(prefix+"versions/3/files/gateway.yaml", bad)
	kv.Put(prefix+"versions/3/manifest", []byte(`{"version":3,"files":[{"name":"gateway.yaml","size":`+strconv.Itoa(len(bad))+`,"sha256":"`+configsource.Digest(bad)+`"}]}`))
	kv.Put(prefix+"current", []byte("3"))
	for i, inst := range fleet {
		waitFor(t, "instance "+strconv.Itoa(i)+" refusing version 3", func() bool { return inst.src.Status().Refused == 3 })
		if got := inst.body(); got != "two" {
			t.Errorf("instance %d answers %q after the bad version; want two", i, got)
		}
		cfg := httpBody(t, inst.admin.URL+"/-/config")
		for _, want := range []string{"# config_source consul: serving version 2", "version 3 refused: fleet/versions/3/files/gateway.yaml:7:"} {
			if !strings.Contains(cfg, want) {
				t.Errorf("instance %d /-/config does not say %q:\n%s", i, want, firstLines(cfg, 3))
			}
		}
		if v := inst.metric(t, `gateway_config_source_refused_version{source="consul"}`); v != 3 {
			t.Errorf("instance %d gateway_config_source_refused_version = %v; want 3", i, v)
		}
	}

	kv.Stop()
	for i, inst := range fleet {
		waitFor(t, "instance "+strconv.Itoa(i)+" seeing Consul gone", func() bool { return !inst.src.Status().Reachable })
	}
	allServe(t, fleet, "the last good version while Consul is gone", "two", fleetWait)
	if v := fleet[0].metric(t, `gateway_config_source_up{source="consul"}`); v != 0 {
		t.Errorf("gateway_config_source_up = %v; want 0", v)
	}

	// Restarted while Consul is gone: the copy on disk serves.
	again, before := startSourceInstance(t, consulSource(kv.Addr(), prefix, states[0]))
	if before != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the copy serves: %d; want 503", before)
	}
	waitFor(t, "ready from the copy", func() bool { return status(t, again.admin.URL+"/readyz") == 200 })
	if got := again.body(); got != "two" {
		t.Errorf("serving %q from the copy; want two", got)
	}

	kv.Start()
	fleet = append(fleet, again)
	for i, inst := range fleet {
		waitFor(t, "instance "+strconv.Itoa(i)+" seeing Consul back", func() bool { return inst.src.Status().Reachable })
	}
	if code, out := publishConsul(t, kv.Addr(), prefix, helloRoutes("four")); code != 0 || !strings.Contains(out, "published version 4 (was 3)") {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	allServe(t, fleet, "the version after Consul came back", "four", recoverWait)
}

// gateway publish -consul validates, shows the diff, and refuses to flip
// the pointer over a version it did not start from.
func TestPublishCommandConsul(t *testing.T) {
	kv := consultest.NewKV(t)
	const prefix = "fleet/"
	if code, out := publishConsul(t, kv.Addr(), prefix, "routes:\n  - name: hello\n    match: { paht: /x }\n    respond: { body: x }\n"); code != 1 || !strings.Contains(out, `unknown field "paht"`) {
		t.Errorf("an invalid file: exit %d\n%s", code, out)
	}
	if code, out := publishConsul(t, kv.Addr(), prefix, helloRoutes("one")); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	code, out := publishConsul(t, kv.Addr(), prefix, helloRoutes("two"), "-dry-run")
	for _, want := range []string{"against version 1", "~ route hello (changed)", "dry run: nothing was published"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("publish -dry-run: exit %d, want %q in\n%s", code, want, out)
		}
	}
	if code, out := publishConsul(t, kv.Addr(), prefix, helloRoutes("theirs")); code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	if code, out := publishConsul(t, kv.Addr(), prefix, helloRoutes("two"), "-expect", "1"); code != 1 || !strings.Contains(out, "current version is 2, not 1") {
		t.Errorf("publish -expect 1 over version 2: exit %d\n%s", code, out)
	}
	if code, out := publishConsul(t, kv.Addr(), prefix, helloRoutes("x"), "-prefix", "/fleet/"); code != 2 || !strings.Contains(out, "no leading") {
		t.Errorf("a prefix with a leading /: exit %d\n%s", code, out)
	}

	// Another operator's version is made current between this one's read
	// of current and its flip: Consul's check-and-set refuses the flip.
	var once sync.Once
	kv.BeforePut(func(key string) {
		if key == prefix+"current" {
			once.Do(func() { kv.Put(prefix+"current", []byte("2")) })
		}
	})
	code, out = publishConsul(t, kv.Addr(), prefix, helloRoutes("mine"))
	kv.BeforePut(nil)
	if code != 1 || !strings.Contains(out, "another publisher was first") || !strings.Contains(out, "started from version 2") {
		t.Errorf("publish over a flip it did not see: exit %d\n%s", code, out)
	}
	if _, ok := kv.Value(prefix + "versions/3/manifest"); ok {
		t.Error("the version that was not made current is left behind")
	}
	if b, _ := kv.Value(prefix + "current"); string(b) != "2" {
		t.Errorf("current is %q; want 2, the other operator's", b)
	}
}
