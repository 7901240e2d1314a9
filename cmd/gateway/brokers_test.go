package main

import (
	"strings"
	"testing"
	"time"
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
