package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fastgate/gateway/bridge/grpcbridge/grpctest"
)

// TestBridgesObserved: a client's traceparent reaches the gRPC server's
// metadata and the broker message headers with the same trace id and the
// gateway's span id, and both answers get an access log line.
func TestBridgesObserved(t *testing.T) {
	natsAddr := needService(t, "nats", "127.0.0.1:4222")
	tok := token(t)
	_, st := jetStream(t, "nats://"+natsAddr, "GWOBS_"+tok, "obs."+tok, jetstream.MemoryStorage)
	srv := grpctest.Start(t, grpctest.Options{})
	logFile := filepath.Join(t.TempDir(), "access.log")
	gw := startBridgeGateway(t, `
access_log: { output: "`+logFile+`" }
brokers:
  events: { nats: { url: "nats://`+natsAddr+`" } }
routes:
  - name: users
    match: { path: "/v1/users/{id}", methods: [GET] }
    grpc: { target: "`+srv.Addr+`", method: test.v1.Users/GetUser, descriptors: users.pb }
  - name: events
    match: { path: /v1/events, methods: [POST] }
    publish: { broker: events, subject: "obs.`+tok+`.x" }
`, map[string][]byte{"users.pb": grpctest.DescriptorSet()})
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	const clientSpan = "00f067aa0ba902b7"
	tp := map[string]string{"traceparent": "00-" + trace + "-" + clientSpan + "-01"}
	check := func(where, got string) {
		t.Helper()
		parts := strings.Split(got, "-")
		if len(parts) != 4 || parts[1] != trace || parts[2] == clientSpan {
			t.Errorf("%s: traceparent %q, want trace %s with the gateway's span id", where, got, trace)
		}
	}
	if resp := gw.do(t, "GET", "/v1/users/1", tp, ""); resp.StatusCode() != 200 {
		t.Fatalf("grpc: status %d", resp.StatusCode())
	}
	if v := srv.LastMetadata().Get("traceparent"); len(v) != 1 {
		t.Errorf("gRPC metadata traceparent = %v", v)
	} else {
		check("gRPC metadata", v[0])
	}
	resp := gw.do(t, "POST", "/v1/events", tp, "e")
	if resp.StatusCode() != 202 {
		t.Fatalf("publish: status %d", resp.StatusCode())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg, err := st.GetMsg(ctx, decodeAck(t, resp.Body()).Sequence)
	if err != nil {
		t.Fatal(err)
	}
	check("message header", msg.Header.Get("traceparent"))

	var lines []map[string]any
	waitFor(t, "two access log lines", func() bool {
		b, _ := os.ReadFile(logFile)
		lines = nil
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil {
				lines = append(lines, m)
			}
		}
		return len(lines) == 2
	})
	for i, want := range []string{"grpc", "publish"} {
		if lines[i]["source"] != want || lines[i]["trace_id"] != trace || lines[i]["request_id"] == nil {
			t.Errorf("line %d = %v: want source %s, trace id %s and a request id", i, lines[i], want, trace)
		}
	}
}
