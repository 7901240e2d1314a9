package consul

import (
	"log/slog"
	"testing"
	"time"

	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/discovery/discoverytest"
	"github.com/fastgate/gateway/internal/logtest"
)

// TestOutageLogged: Consul stopped, then back: one warn line when the
// outage starts, with the error, and one info line when it ends, with
// its duration, however many attempts failed in between.
func TestOutageLogged(t *testing.T) {
	f := newFakeConsul(t)
	var logs logtest.Buffer
	r, err := discovery.NewRegistry(discovery.RegistrySettings{
		Sources: map[string]discovery.Watcher{"consul": newTestWatcher(t, testSettings(f))},
		Logger:  slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sub, err := r.Subscribe("consul", "users", discovery.HealthSettings{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitSet(t, sub, "first list", users1, users2)

	f.stop()
	eventually(t, 10*time.Second, "failed attempts", func() bool { return discoverytest.Status(t, r, "users").Errors >= 3 })
	n, down := logs.Last(t, "discovery: registry unreachable")
	if e, _ := down["error"].(string); n != 1 || down["level"] != "WARN" || down["source"] != "consul" || down["service"] != "users" || e == "" {
		t.Fatalf("%d outage lines, last %v; want 1 warn with the error", n, down)
	}
	if n, _ := logs.Last(t, "discovery: registry reachable again"); n != 0 {
		t.Fatalf("%d recovery lines while Consul is down", n)
	}

	f.start()
	failed := discoverytest.Status(t, r, "users").Errors
	eventually(t, 10*time.Second, "an answer after Consul came back", func() bool {
		st := discoverytest.Status(t, r, "users")
		return st.LastSync.After(st.LastErrorAt)
	})
	n, back := logs.Last(t, "discovery: registry reachable again")
	if n != 1 || back["level"] != "INFO" || back["service"] != "users" {
		t.Fatalf("%d recovery lines, last %v; want 1 info", n, back)
	}
	if d, err := time.ParseDuration(back["outage"].(string)); err != nil || d <= 0 {
		t.Errorf("outage %v (%v), want its duration", back["outage"], err)
	}
	if got, _ := back["failed_attempts"].(float64); got < float64(failed) {
		t.Errorf("failed_attempts %v, want at least %d", back["failed_attempts"], failed)
	}
	if n, _ := logs.Last(t, "discovery: registry unreachable"); n != 1 {
		t.Errorf("%d outage lines in all, want 1", n)
	}
}
