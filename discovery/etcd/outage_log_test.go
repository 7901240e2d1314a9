package etcd

import (
	"log/slog"
	"testing"
	"time"

	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/discovery/discoverytest"
	"github.com/fastgate/gateway/internal/etcdtest"
	"github.com/fastgate/gateway/internal/logtest"
)

// TestOutageLogged: a real etcd stopped, then started again: one warn
// line when the outage starts, with the error, and one info line when
// it ends, with its duration.
func TestOutageLogged(t *testing.T) {
	e := etcdtest.Start(t)
	put(t, etcdtest.Client(t, e.Endpoint()), Key("", "users", "a"), Value{Address: "127.0.0.1", Port: 9001})
	var logs logtest.Buffer
	r, err := discovery.NewRegistry(discovery.RegistrySettings{
		Sources: map[string]discovery.Watcher{"etcd": newTestWatcher(t, testSettings(e.Endpoint(), ""))},
		Logger:  slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sub := subscribe(t, r, "users")
	waitSet(t, sub, "first list", "127.0.0.1:9001")

	e.Stop()
	eventually(t, 10*time.Second, "failed attempts", func() bool { return discoverytest.Status(t, r, "users").Errors >= 2 })
	n, down := logs.Last(t, "discovery: registry unreachable")
	if er, _ := down["error"].(string); n != 1 || down["level"] != "WARN" || down["source"] != "etcd" || down["service"] != "users" || er == "" {
		t.Fatalf("%d outage lines, last %v; want 1 warn with the error", n, down)
	}

	e.Start()
	eventually(t, 15*time.Second, "an answer after etcd came back", func() bool {
		st := discoverytest.Status(t, r, "users")
		return st.LastSync.After(st.LastErrorAt)
	})
	n, back := logs.Last(t, "discovery: registry reachable again")
	if n != 1 || back["level"] != "INFO" || back["source"] != "etcd" {
		t.Fatalf("%d recovery lines, last %v; want 1 info", n, back)
	}
	if d, err := time.ParseDuration(back["outage"].(string)); err != nil || d <= 0 {
		t.Errorf("outage %v (%v), want its duration", back["outage"], err)
	}
	if n, _ := logs.Last(t, "discovery: registry unreachable"); n != 1 {
		t.Errorf("%d outage lines in all, want 1", n)
	}
}
