package discovery

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStateFileRestart: a gateway restarted while its registry is down
// serves the instances the state file kept, until the registry answers.
func TestStateFileRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "discovery-state.json")

	src := newFakeSource()
	r1 := newTestRegistry(t, RegistrySettings{Sources: map[string]Watcher{"fake": src}, StateFile: path})
	users := mustSubscribe(t, r1, "fake", "users")
	empty := mustSubscribe(t, r1, "fake", "empty")
	src.push(t, "users", Update{Changed: true, Endpoints: []Endpoint{
		{Addr: "10.0.0.1:80", Weight: 3, Meta: map[string]string{"zone": "a"}},
		{Addr: "10.0.0.2:80", Weight: 1},
	}})
	src.push(t, "empty", Update{Changed: true})
	_ = users.Close() // the last subscriber leaving keeps its list in the file
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	_ = empty.Close()

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc stateDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("state file is not JSON: %v\n%s", err, b)
	}
	if doc.Version != 1 || len(doc.Services) != 2 || doc.Services[1].Service != "users" ||
		!bytes.Contains(b, []byte(`"instances": []`)) {
		t.Errorf("state file:\n%s", b)
	}

	// Restart: the registry is down (the watcher never answers).
	src2 := newFakeSource()
	r2 := newTestRegistry(t, RegistrySettings{Sources: map[string]Watcher{"fake": src2}, StateFile: path})
	s := mustSubscribe(t, r2, "fake", "users")
	defer s.Close()
	select {
	case <-s.Ready():
	default:
		t.Fatal("not ready with a list in the state file")
	}
	if got := setAddrs(s.Set()); !slices.Equal(got, []string{"10.0.0.1:80", "10.0.0.2:80"}) {
		t.Fatalf("restored set %v", got)
	}
	in := s.Set().Lookup("10.0.0.1:80")
	if in.Weight != 3 || in.Meta["zone"] != "a" {
		t.Errorf("restored instance %+v", in.Endpoint)
	}
	if st := statusOf(t, r2, "fake", "users"); !st.Restored || !st.Known || !st.LastSync.IsZero() {
		t.Errorf("status %+v", st)
	}
	src2.push(t, "users", Update{Err: os.ErrDeadlineExceeded})
	if s.Set().Len() != 2 {
		t.Errorf("restored list dropped on an error")
	}
	// The registry is back and answers: its answer wins, empty or not.
	src2.push(t, "users", Update{Changed: true})
	if s.Set().Len() != 0 {
		t.Errorf("set %v after an empty answer", setAddrs(s.Set()))
	}
	if st := statusOf(t, r2, "fake", "users"); st.Restored {
		t.Errorf("still restored after an answer")
	}
}

func TestStateFileUnreadable(t *testing.T) {
	tests := []struct {
		desc    string
		give    string
		wantLog string
	}{
		{desc: "not JSON", give: "{oops", wantLog: "state file not used"},
		{desc: "other version", give: `{"version": 9, "services": []}`, wantLog: "version 9"},
		{desc: "empty object", give: `{}`, wantLog: "version 0"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(tt.give), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			src := newFakeSource()
			r := newTestRegistry(t, RegistrySettings{
				Sources:   map[string]Watcher{"fake": src},
				StateFile: path,
				Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
			})
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log %q does not say %q", logs.String(), tt.wantLog)
			}
			s := mustSubscribe(t, r, "fake", "users")
			defer s.Close()
			if s.Set().Len() != 0 {
				t.Errorf("instances from a bad state file")
			}
		})
	}
}

// TestStateFileWriteRate: a burst of changes costs a bounded number of
// writes, the last state always reaches the file, and no temporary file
// is left behind.
func TestStateFileWriteRate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	src := newFakeSource()
	r := newTestRegistry(t, RegistrySettings{
		Sources:            map[string]Watcher{"fake": src},
		StateFile:          path,
		StateWriteInterval: 200 * time.Millisecond,
	})
	s := mustSubscribe(t, r, "fake", "svc")
	defer s.Close()
	const changes = 50
	start := time.Now()
	for i := range changes {
		src.push(t, "svc", Update{Changed: true, Endpoints: eps("10.0.0."+string(rune('0'+i%10))+":80", "x:1")})
	}
	src.push(t, "svc", Update{Changed: true, Endpoints: eps("last:1")})
	elapsed := time.Since(start)
	waitFor(t, 2*time.Second, "last list written", func() bool {
		b, _ := os.ReadFile(path)
		return bytes.Contains(b, []byte(`"last:1"`))
	})
	writes := r.state.writes.Load()
	if limit := int64(elapsed/(200*time.Millisecond)) + 3; writes > limit {
		t.Errorf("%d writes for %d changes in %v, want at most %d", writes, changes, elapsed, limit)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left in the state directory: %v", entries)
	}
}

// TestStateFileStaleness: after a restart served from the state file,
// staleness counts from the sync time the file recorded, not from the
// start, so that a stale registry is noticed as soon as it is stale.
func TestStateFileStaleness(t *testing.T) {
	path := filepath.Join(t.TempDir(), "discovery-state.json")
	synced := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	doc := stateDoc{Version: stateVersion, Written: synced, Services: []stateService{{
		Source: "fake", Service: "users", Synced: synced,
		Instances: []stateInstance{{Addr: "10.0.0.1:80", Weight: 1}},
	}}}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// The registry is down: the watcher never answers.
	r := newTestRegistry(t, RegistrySettings{Sources: map[string]Watcher{"fake": newFakeSource()}, StateFile: path})
	s := mustSubscribe(t, r, "fake", "users")
	defer s.Close()
	now := time.Now()
	st := statusOf(t, r, "fake", "users")
	if !st.Restored || !st.KnownSync.Equal(synced) {
		t.Errorf("status %+v, want restored with the file's sync time %v", st, synced)
	}
	if got := st.Staleness(now); got < time.Hour || got > time.Hour+time.Minute {
		t.Errorf("staleness %v, want about 1h (the file's sync time), not the time since start", got)
	}
}
