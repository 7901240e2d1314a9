package nats

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/fastgate/gateway/internal/testwait"
)

// TestMain fails the package's tests if a goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sharedURL returns the URL of the test NATS server (NATS_URL, default
// nats://127.0.0.1:4222, with JetStream on). Without it the test fails
// when REQUIRE_SERVICES is set and is skipped otherwise.
func sharedURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	nc, err := natsgo.Connect(url, natsgo.Timeout(2*time.Second), natsgo.NoReconnect())
	if err == nil {
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err = js.AccountInfo(ctx)
	}
	if err != nil {
		if os.Getenv("REQUIRE_SERVICES") != "" {
			t.Fatalf("nats with JetStream at %s: %v (REQUIRE_SERVICES is set)", url, err)
		}
		t.Skipf("nats with JetStream at %s: %v", url, err)
	}
	return url
}

// testSettings reconnect quickly, for the outage tests.
func testSettings(url string, js bool) Settings {
	return Settings{
		URL:              url,
		Name:             "gateway-test",
		JetStream:        js,
		ConnectTimeout:   time.Second,
		ReconnectWait:    20 * time.Millisecond,
		MaxReconnectWait: 200 * time.Millisecond,
	}
}

func newPublisher(t testing.TB, s Settings) *Publisher {
	t.Helper()
	p, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// admin is a plain client for the tests' own setup and checks.
func admin(t testing.TB, url string) (*natsgo.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := natsgo.Connect(url, natsgo.Timeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// unique returns a random token that keeps each test's streams and
// subjects apart on a server shared with other runs.
func unique(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// newStream creates a stream named name capturing subject.>, deleted
// at cleanup.
func newStream(t testing.TB, js jetstream.JetStream, name, subject string, storage jetstream.StorageType) jetstream.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     name,
		Subjects: []string{subject + ".>"},
		Storage:  storage,
	})
	if err != nil {
		t.Fatalf("create stream %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, name)
	})
	return st
}

// fetchAll reads n messages of st from the start, through an ordered
// consumer, within 30s.
func fetchAll(t testing.TB, st jetstream.Stream, n int) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("ordered consumer: %v", err)
	}
	var out []jetstream.Msg
	for len(out) < n && ctx.Err() == nil {
		batch, err := cons.Fetch(min(n-len(out), 500), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		for msg := range batch.Messages() {
			out = append(out, msg)
		}
		if err := batch.Error(); err != nil && ctx.Err() == nil {
			t.Logf("fetch batch: %v", err)
		}
	}
	if len(out) != n {
		t.Fatalf("fetched %d messages, want %d", len(out), n)
	}
	return out
}

// eventually waits until cond holds, for at most d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, d, what, cond)
}

// natsServer is a nats-server with JetStream that a test runs on its own
