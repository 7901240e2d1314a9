package consul

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/configsource"
	"github.com/fastgate/gateway/configsource/sourcetest"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/internal/consultest"
)

// TestMain fails the package's tests if a goroutine outlives them. The
// Consul client's environment defaults are cleared: tests set what they
// send.
func TestMain(m *testing.M) {
	for _, v := range []string{"CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSUL_HTTP_ADDR"} {
		_ = os.Unsetenv(v)
	}
	goleak.VerifyTestMain(m)
}

// A change is followed within a second, the fleet's promise.
const within = time.Second

const prefix = "fleet/"

var eventually = sourcetest.Eventually

// target records what a Source hands it.
type target = sourcetest.Target

var hello = sourcetest.Hello

// testConn gives up on a hung agent within a second.
func testConn(addr string) Conn {
	return Conn{Address: "http://" + addr, Prefix: prefix, Timeout: time.Second}
}

func local(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte("config_source:\n  consul: { prefix: "+prefix+" }\n"), "local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startSource runs a Source over tg until the test ends: blocking
// queries wait 1s at most.
func startSource(t *testing.T, conn Conn, tg *target, state string) *Source[string] {
	t.Helper()
	src, err := New(Settings[string]{
		Conn:        conn,
		WaitTime:    time.Second,
		MinInterval: 10 * time.Millisecond,
		Backoff:     discovery.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		StateFile:   state,
		Local:       local(t),
		Target:      tg,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, src)
	return src
}

// run runs src until the test ends.
func run(t *testing.T, src *Source[string]) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; _ = src.Close() })
}

func newPublisher(t *testing.T, addr string) *Publisher {
	t.Helper()
	p, err := NewPublisher(testConn(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// publish publishes files over whatever is current.
func publish(t *testing.T, p *Publisher, files map[string][]byte) int64 {
	t.Helper()
	return sourcetest.Publish(t, p, files)
}

// putVersion writes version n's keys by hand, as a buggy publisher or
// consul kv put could: the manifest says manifestFiles, the files are
// files.
func putVersion(kv *consultest.KV, n string, manifest map[string][]byte, files map[string][]byte) {
	m := configsource.NewManifest(0, manifest, "hand")
	b, _ := json.Marshal(m)
	b = bytes.Replace(b, []byte(`"version":0`), []byte(`"version":`+n), 1)
	for name, v := range files {
		kv.Put(prefix+"versions/"+n+"/files/"+name, v)
	}
	kv.Put(prefix+"versions/"+n+"/manifest", b)
}
