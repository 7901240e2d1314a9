package etcd

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/configsource/sourcetest"
	"github.com/fastgate/gateway/discovery"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var eventually = sourcetest.Eventually

// recTarget records what a Source hands it.
type recTarget = sourcetest.Target

// local is an instance's own file, with its config_source.
func local(t *testing.T, endpoint, prefix string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
config_source:
  etcd: { endpoints: [%q], prefix: %q }
`, endpoint, prefix)), "local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// testConn notices an etcd that is gone quickly.
func testConn(endpoint, prefix string) Conn {
	return Conn{Endpoints: []string{endpoint}, Prefix: prefix, DialTimeout: time.Second, RequestTimeout: 500 * time.Millisecond}
}

// startSource runs a Source over target until the test ends.
func startSource(t *testing.T, endpoint, prefix string, target *recTarget, state string) *Source[string] {
	t.Helper()
	src, err := New(Settings[string]{
		Conn:             testConn(endpoint, prefix),
		ProgressInterval: 200 * time.Millisecond,
		Backoff:          discovery.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		StateFile:        state,
		Local:            local(t, endpoint, prefix),
		Target:           target,
		Logger:           slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; _ = src.Close() })
	return src
}

func newPublisher(t *testing.T, endpoint, prefix string) *Publisher {
	t.Helper()
	p, err := NewPublisher(testConn(endpoint, prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

var hello = sourcetest.Hello

// publish publishes files over whatever is current.
func publish(t *testing.T, p *Publisher, files map[string][]byte) int64 {
	t.Helper()
	return sourcetest.Publish(t, p, files)
}

func put(t *testing.T, cli *clientv3.Client, key, value string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Put(ctx, key, value)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}
