package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	goredis "github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/bridge/broker"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/internal/testserver"
	"github.com/fastgate/gateway/internal/testwait"
)

// needService returns addr when something answers there. Otherwise the
// test fails under make test (REQUIRE_SERVICES) and is skipped when run by
// hand.
func needService(t *testing.T, name, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if os.Getenv("REQUIRE_SERVICES") != "" {
			t.Fatalf("%s at %s: %v (REQUIRE_SERVICES is set)", name, addr, err)
		}
		t.Skipf("%s at %s: %v", name, addr, err)
	}
	c.Close()
	return addr
}

func token(t testing.TB) string {
	t.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// jetStream connects to the shared NATS and makes a stream capturing
// subject.>, deleted at the end.
func jetStream(t testing.TB, url, name, subject string, storage jetstream.StorageType) (*natsgo.Conn, jetstream.Stream) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject + ".>"}, Storage: storage})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(ctx, name)
	})
	return nc, st
}

type ackBody struct {
	Broker    string `json:"broker"`
	Stream    string `json:"stream"`
	Sequence  uint64 `json:"sequence"`
	Duplicate bool   `json:"duplicate"`
	ID        string `json:"id"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

func decodeAck(t *testing.T, body []byte) ackBody {
	t.Helper()
	var a ackBody
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("202 body %q is not the broker's acknowledgement: %v", body, err)
	}
	return a
}

func TestPublishJetStream(t *testing.T) {
	addr := needService(t, "nats", "127.0.0.1:4222")
	tok := token(t)
	subject := "gwtest." + tok
	_, st := jetStream(t, "nats://"+addr, "GWTEST_"+tok, subject, jetstream.MemoryStorage)
	gw := startBridgeGateway(t, `
brokers:
  events: { nats: { url: "nats://`+addr+`" } }
routes:
  - name: events
    match: { path: "/v1/events/{kind}", methods: [POST] }
    publish: { broker: events, subject: "`+subject+`.{kind}", headers: [X-Tenant], max_payload: 1KiB }
`, nil)
	payload := "\x00binary\xffpayload\r\n"
	hdr := map[string]string{"X-Tenant": "acme", "Idempotency-Key": "order-1", "Content-Type": "application/octet-stream", "X-Request-Id": "rid-7", "X-Other": "not passed"}
	resp := gw.do(t, "POST", "/v1/events/created", hdr, payload)
	if resp.StatusCode() != 202 {
		t.Fatalf("status %d, body %s; want 202", resp.StatusCode(), resp.Body())
	}
	ack := decodeAck(t, resp.Body())
	if ack.Broker != "jetstream" || ack.Stream != "GWTEST_"+tok || ack.Sequence != 1 || ack.Duplicate {
		t.Errorf("ack %+v: want jetstream, stream GWTEST_%s, sequence 1", ack, tok)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg, err := st.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msg.Data, []byte(payload)) || msg.Subject != subject+".created" {
		t.Errorf("stored %q on %s; want the payload on %s.created", msg.Data, msg.Subject, subject)
	}
	for k, want := range map[string]string{"X-Tenant": "acme", "X-Request-Id": "rid-7", "Nats-Msg-Id": "order-1", "Content-Type": "application/octet-stream", "X-Other": ""} {
		if got := msg.Header.Get(k); got != want {
			t.Errorf("message header %s = %q, want %q", k, got, want)
		}
	}
	// The client retries: JetStream knows the id, nothing is stored twice.
	resp = gw.do(t, "POST", "/v1/events/created", hdr, payload)
	if ack := decodeAck(t, resp.Body()); resp.StatusCode() != 202 || !ack.Duplicate || ack.Sequence != 1 {
		t.Errorf("retry: status %d ack %+v; want 202, duplicate of sequence 1", resp.StatusCode(), ack)
	}
	// Refusals reach no broker.
	if resp := gw.do(t, "POST", "/v1/events/created", nil, strings.Repeat("x", 1025)); resp.StatusCode() != 413 {
		t.Errorf("payload over max_payload: status %d, want 413", resp.StatusCode())
	}
	if resp := gw.do(t, "POST", "/v1/events/a.b", nil, "x"); resp.StatusCode() != 400 {
		t.Errorf("a parameter that would add a subject token: status %d, want 400", resp.StatusCode())
	}
	info, err := st.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages (%v), want 1", info.State.Msgs, err)
	}
	if got := gw.metric(t, `gateway_publish_total{broker="events",result="confirmed",route="events"}`); got != 2 {
		t.Errorf("confirmed publishes counted %v, want 2", got)
	}
	if got := gw.metric(t, `gateway_broker_up{broker="events"}`); got != 1 {
		t.Errorf("gateway_broker_up = %v, want 1", got)
	}
}

func TestPublishRedis(t *testing.T) {
	addr := needService(t, "redis", "127.0.0.1:6379")
	tok := token(t)
	gw := startBridgeGateway(t, `
brokers:
  audit: { redis: { address: "`+addr+`" } }
routes:
  - name: audit
    match: { path: "/v1/audit/{kind}", methods: [POST] }
    publish: { broker: audit, stream: "gwtest:`+tok+`:{kind}", headers: [X-Tenant] }
  - name: notify
    match: { path: /v1/notify, methods: [POST] }
    publish: { broker: audit, channel: "gwtest:`+tok+`:notify" }
`, nil)
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream := "gwtest:" + tok + ":login"
	defer rdb.Del(context.Background(), stream)

	resp := gw.do(t, "POST", "/v1/audit/login", map[string]string{"X-Tenant": "acme", "Content-Type": "text/plain"}, "who: ana")
	if resp.StatusCode() != 202 {
		t.Fatalf("status %d, body %s", resp.StatusCode(), resp.Body())
	}
	ack := decodeAck(t, resp.Body())
	entries, err := rdb.XRange(ctx, stream, "-", "+").Result()
	if err != nil || len(entries) != 1 {
		t.Fatalf("stream has %d entries (%v), want 1", len(entries), err)
	}
	e := entries[0]
	if ack.Broker != "redis-stream" || ack.ID != e.ID || ack.Stream != stream {
		t.Errorf("ack %+v, want the entry id %s of %s", ack, e.ID, stream)
	}
	if e.Values["payload"] != "who: ana" || e.Values["content-type"] != "text/plain" || e.Values["h:X-Tenant"] != "acme" {
		t.Errorf("entry %v: want the payload, its content type and the X-Tenant header", e.Values)
	}

	sub := rdb.Subscribe(ctx, "gwtest:"+tok+":notify")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if resp := gw.do(t, "POST", "/v1/notify", nil, "ping"); resp.StatusCode() != 202 {
		t.Fatalf("channel publish: status %d", resp.StatusCode())
	}
	m, err := sub.ReceiveMessage(ctx)
	if err != nil || m.Payload != "ping" {
		t.Errorf("subscriber got %v (%v), want ping", m, err)
	}
}

// natsServer runs a nats-server with JetStream that the test owns, on its

// waitFor waits until cond holds, for up to 15s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, 15*time.Second, what, cond)
}

func TestPublishBrokerDownAndBack(t *testing.T) {
	srv := testserver.NATS(t).Start() // its own, so that it can stop and start it
	tok := token(t)
	// On disk, so that the stream outlives the server's restart.
	_, _ = jetStream(t, "nats://"+srv.Addr(), "GWDOWN_"+tok, "down."+tok, jetstream.FileStorage)
	gw := startBridgeGateway(t, `
brokers:
  events: { nats: { url: "`+"nats://"+srv.Addr()+`" }, required: true }
routes:
  - name: events
    match: { path: /v1/events, methods: [POST] }
    publish: { broker: events, subject: "down.`+tok+`.x", timeout: 1s }
`, nil)
	if resp := gw.do(t, "POST", "/v1/events", nil, "one"); resp.StatusCode() != 202 {
		t.Fatalf("broker up: status %d, body %s", resp.StatusCode(), resp.Body())
	}
	srv.Stop()
	waitFor(t, "gateway_broker_up turning 0", func() bool { return gw.metric(t, `gateway_broker_up{broker="events"}`) == 0 })
	for i := range 5 {
		resp := gw.do(t, "POST", "/v1/events", nil, "lost?")
		if s := resp.StatusCode(); s != 503 && s != 504 {
			t.Fatalf("broker down, publish %d: status %d, want 503 or 504, never a 2xx", i, s)
		}
	}
	if gw.gw.Ready() {
		t.Error("ready while a required broker is down")
	}
	srv.Start()
	waitFor(t, "a publish succeeding again", func() bool {
		return gw.do(t, "POST", "/v1/events", nil, "two").StatusCode() == 202
	})
	if !gw.gw.Ready() {
		t.Error("not ready with the broker back")
	}
}

func TestPublishRequestReplyAndFireAndForget(t *testing.T) {
	addr := needService(t, "nats", "127.0.0.1:4222")
	tok := token(t)
	nc, err := natsgo.Connect("nats://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.Subscribe("ask."+tok, func(m *natsgo.Msg) { _ = m.Respond(append([]byte("re: "), m.Data...)) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	got := make(chan []byte, 1)
	sub2, err := nc.Subscribe("fire."+tok, func(m *natsgo.Msg) { got <- m.Data })
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Unsubscribe()
	_ = nc.Flush()
	gw := startBridgeGateway(t, `
brokers:
  core: { nats: { url: "nats://`+addr+`", jetstream: false } }
routes:
  - name: ask
    match: { path: /v1/ask, methods: [POST] }
    publish: { broker: core, subject: "ask.`+tok+`", reply: true, timeout: 2s }
  - name: fire
    match: { path: /v1/fire, methods: [POST] }
    publish: { broker: core, subject: "fire.`+tok+`", mode: fire_and_forget }
  - name: nobody
    match: { path: /v1/nobody, methods: [POST] }
    publish: { broker: core, subject: "nobody.`+tok+`", reply: true, timeout: 500ms }
`, nil)
	if resp := gw.do(t, "POST", "/v1/ask", nil, "hello"); resp.StatusCode() != 200 || string(resp.Body()) != "re: hello" {
		t.Errorf("request-reply: status %d body %q, want 200 re: hello", resp.StatusCode(), resp.Body())
	}
	if resp := gw.do(t, "POST", "/v1/nobody", nil, "hello"); resp.StatusCode() < 500 {
		t.Errorf("request without responders: status %d, want 503 or 504", resp.StatusCode())
	}
	resp := gw.do(t, "POST", "/v1/fire", nil, "forget me")
	if resp.StatusCode() != 202 || !strings.Contains(string(resp.Body()), `"confirmed":false`) {
		t.Errorf("fire and forget: status %d body %s, want 202 saying it is not confirmed", resp.StatusCode(), resp.Body())
	}
	select {
	case b := <-got:
		if string(b) != "forget me" {
			t.Errorf("subscriber got %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Error("the fire-and-forget message never arrived")
	}
}

// TestPublishJetStreamExactlyOnce sends 10,000 publishes through the
// gateway, retrying some with the same idempotency key as a client would
// after a timeout: every answered message is stored exactly once.
func TestPublishJetStreamExactlyOnce(t *testing.T) {
	addr := needService(t, "nats", "127.0.0.1:4222")
	tok := token(t)
	_, st := jetStream(t, "nats://"+addr, "GWLOAD_"+tok, "load."+tok, jetstream.MemoryStorage)
	gw := startBridgeGateway(t, `
brokers:
  events: { nats: { url: "nats://`+addr+`" } }
routes:
  - name: events
    match: { path: /v1/events, methods: [POST] }
    publish: { broker: events, subject: "load.`+tok+`.x" }
`, nil)
	const total, workers = 10000, 32
	var next, confirmed, retried atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(90 * time.Second)
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= total || time.Now().After(deadline) {
					return
				}
				key := fmt.Sprintf("msg-%d", i)
				hdr := map[string]string{"Idempotency-Key": key}
				resp := gw.do(t, "POST", "/v1/events", hdr, key)
				if i%7 == 0 { // a client that did not see the answer sends again
					resp = gw.do(t, "POST", "/v1/events", hdr, key)
					retried.Add(1)
				}
				if resp.StatusCode() == 202 {
					confirmed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if time.Now().After(deadline) {
		t.Fatalf("only %d of %d publishes in 90s", next.Load(), total)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if confirmed.Load() != total || info.State.Msgs != total {
		t.Errorf("%d confirmed, %d stored (after %d retries); want %d of each", confirmed.Load(), info.State.Msgs, retried.Load(), total)
	}
}

// TestBrokerConnectionKeptAcrossReloads: a reload that leaves a broker's
// settings alone keeps its connection; one that changes them connects
// anew. Publishes succeed throughout.
func TestBrokerConnectionKeptAcrossReloads(t *testing.T) {
	addr := needService(t, "redis", "127.0.0.1:6379")
	var connects atomic.Int64
	real := brokerFactory(slog.New(slog.DiscardHandler))
	counting := func(name string, b *config.Broker) (broker.Publisher, error) {
		connects.Add(1)
		return real(name, b)
	}
	tok := token(t)
	write := func(dir, db, extraRoute string) *config.Config {
		path := filepath.Join(dir, "gateway.yaml")
		yaml := `admin: "off"
brokers:
  audit: { redis: { address: "` + addr + `", db: ` + db + ` } }
routes:
  - name: audit
    match: { path: /v1/audit, methods: [POST] }
    publish: { broker: audit, stream: "gwtest:` + tok + `" }
` + extraRoute
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	defer func() {
		rdb := goredis.NewClient(&goredis.Options{Addr: addr})
		rdb.Del(context.Background(), "gwtest:"+tok)
		rdb.Close()
	}()
	dir := t.TempDir()
	gw, err := newGatewayFor(t, write(dir, "0", ""), counting)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gw.Serve(ln) }()
	defer gw.Shutdown(context.Background())
	served := &bridgeGateway{gw: gw, addr: ln.Addr().String(), client: &fasthttp.Client{}}
	publish := func(step string) {
		t.Helper()
		if resp := served.do(t, "POST", "/v1/audit", nil, step); resp.StatusCode() != 202 {
			t.Fatalf("%s: status %d body %s", step, resp.StatusCode(), resp.Body())
		}
	}
	publish("start")
	extra := `  - name: hello
    match: { path: /hello }
    respond: { body: hi }
`
	if _, err := gw.Apply(write(dir, "0", extra)); err != nil {
		t.Fatal(err)
	}
	publish("after a reload that kept the broker")
	if n := connects.Load(); n != 1 {
		t.Errorf("%d connections after a reload that left the broker alone, want 1", n)
	}
	if _, err := gw.Apply(write(dir, "1", extra)); err != nil {
		t.Fatal(err)
	}
	publish("after a reload that changed the broker")
	if n := connects.Load(); n != 2 {
		t.Errorf("%d connections after the broker's settings changed, want 2", n)
	}
}
