package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
	"github.com/fastgate/gateway/internal/logtest"
)

// TestPublishNoResponders: a request route whose subject nothing listens
// on, on a NATS server that is up, is told so (503, "no responders for
// subject", result no_responders), not that the broker is unavailable.
func TestPublishNoResponders(t *testing.T) {
	addr := needService(t, "nats", "127.0.0.1:4222")
	tok := token(t)
	gw := startBridgeGateway(t, `
brokers:
  core: { nats: { url: "nats://`+addr+`", jetstream: false } }
routes:
  - name: nobody
    match: { path: /v1/nobody, methods: [POST] }
    publish: { broker: core, subject: "nobody.`+tok+`", reply: true, timeout: 5s }
`, nil)
	start := time.Now()
	resp := gw.do(t, "POST", "/v1/nobody", nil, "hello")
	took := time.Since(start)
	if resp.StatusCode() != 503 || !strings.Contains(string(resp.Body()), `"error":"no responders for subject"`) {
		t.Errorf("status %d body %s, want 503 no responders for subject", resp.StatusCode(), resp.Body())
	}
	if took > 2*time.Second {
		t.Errorf("answered after %v: the server says no responders at once", took)
	}
	if got := gw.metric(t, `gateway_publish_total{broker="core",result="no_responders",route="nobody"}`); got != 1 {
		t.Errorf("no_responders count %v, want 1", got)
	}
	if got := gw.metric(t, `gateway_publish_total{broker="core",result="unavailable",route="nobody"}`); got != 0 {
		t.Errorf("unavailable count %v, want 0: the broker is there", got)
	}
}

// TestPublishKafkaStopped: with the Kafka cluster stopped, a publish
// answers 503 (not connected) well before the route's timeout, not 504
// at it.
func TestPublishKafkaStopped(t *testing.T) {
	c, addr := kafkaCluster(t, 0, "events")
	gw := startBridgeGateway(t, `
brokers:
  k: { kafka: { brokers: ["`+addr+`"] } }
routes:
  - name: events
    match: { path: /v1/events, methods: [POST] }
    publish: { broker: k, topic: events, timeout: 5s }
`, nil)
	if resp := gw.do(t, "POST", "/v1/events", nil, "one"); resp.StatusCode() != 202 {
		t.Fatalf("cluster up: status %d body %s", resp.StatusCode(), resp.Body())
	}
	c.Close()
	for i := range 3 {
		start := time.Now()
		resp := gw.do(t, "POST", "/v1/events", nil, "lost?")
		took := time.Since(start)
		if resp.StatusCode() != 503 || !strings.Contains(string(resp.Body()), "broker unavailable") {
			t.Errorf("cluster stopped, publish %d: status %d body %s, want 503 broker unavailable", i, resp.StatusCode(), resp.Body())
		}
		if took > 2*time.Second {
			t.Errorf("cluster stopped, publish %d: answered after %v (timeout 5s)", i, took)
		}
	}
	if got := gw.metric(t, `gateway_publish_total{broker="k",result="unavailable",route="events"}`); got != 3 {
		t.Errorf("unavailable count %v, want 3", got)
	}
}

// TestPublishNotConfirmedLogged: publishes to a JetStream subject no
// stream captures, on the real NATS server, answer 503 and leave one warn
// line for the burst, with the broker's reason.
func TestPublishNotConfirmedLogged(t *testing.T) {
	addr := needService(t, "nats", "127.0.0.1:4222")
	cfg, err := config.Parse([]byte(`
admin: "off"
brokers:
  js: { nats: { url: "nats://`+addr+`" } }
routes:
  - name: orphan
    match: { path: /v1/orphan, methods: [POST] }
    publish: { broker: js, subject: "orphan.`+token(t)+`", timeout: 5s }
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out logtest.Buffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	gw, err := gateway.New(cfg, gateway.Options{Logger: log, Brokers: brokerFactory(log)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = gw.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		<-served
	}()
	c := &fasthttp.HostClient{Addr: ln.Addr().String()}
	defer c.CloseIdleConnections()
	for i := range 3 {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://x/v1/orphan")
		req.Header.SetMethod("POST")
		req.SetBodyString("lost")
		if err := c.DoTimeout(req, resp, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != 503 || !strings.Contains(string(resp.Body()), "broker did not confirm the message") {
			t.Errorf("publish %d: status %d body %s, want 503 not confirmed", i, resp.StatusCode(), resp.Body())
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "gateway: publish failed" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d publish failure lines for a burst of 3, want 1:\n%s", len(lines), out.String())
	}
	e, _ := lines[0]["error"].(string)
	if lines[0]["level"] != "WARN" || lines[0]["route"] != "orphan" || lines[0]["broker"] != "js" ||
		lines[0]["result"] != "not_confirmed" || !strings.Contains(e, "no JetStream stream") {
		t.Errorf("line %v, want route, broker, result not_confirmed and the broker's reason", lines[0])
	}
}
