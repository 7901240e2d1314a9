package main

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/fastgate/gateway/bridge/grpcbridge/grpctest"
	"github.com/fastgate/gateway/discovery/etcd"
)

// grpcRoutes are the routes of the gRPC tests; {ADDR} is the server.
const grpcRoutes = `
routes:
  - name: get-user
    match: { path: "/v1/users/{id}", methods: [GET, POST] }
    grpc: { target: "{ADDR}", method: test.v1.Users/GetUser, SCHEMA, metadata: [X-Tenant], response_metadata: [x-served-by, x-trailer] }
  - name: fail
    match: { path: /v1/fail, methods: [POST] }
    grpc: { target: "{ADDR}", method: test.v1.Users/Fail, SCHEMA }
  - name: sleep
    match: { path: /v1/sleep, methods: [POST] }
    grpc: { target: "{ADDR}", method: test.v1.Users/Sleep, SCHEMA, timeout: 300ms }
    circuit_breaker: { consecutive_failures: 3, open_for: 1m }
  - name: watch
    match: { path: /v1/watch, methods: [POST] }
    grpc: { target: "{ADDR}", method: test.v1.Users/Watch, SCHEMA }
`

func grpcConfig(addr string, reflection bool) (string, map[string][]byte) {
	schema := "descriptors: users.pb"
	files := map[string][]byte{"users.pb": grpctest.DescriptorSet()}
	if reflection {
		schema, files = "reflection: true", nil
	}
	return strings.NewReplacer("{ADDR}", addr, "SCHEMA", schema).Replace(grpcRoutes), files
}

func TestGRPCBridgeMapsFieldsAndAnswers(t *testing.T) {
	for _, tt := range []struct {
		desc       string
		reflection bool
	}{
		{desc: "descriptor file, no reflection on the server", reflection: false},
		{desc: "server reflection", reflection: true},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			refl := grpctest.ReflectionOff
			if tt.reflection {
				refl = grpctest.ReflectionV1
			}
			srv := grpctest.Start(t, grpctest.Options{Reflection: refl, Name: "users-1"})
			yaml, files := grpcConfig(srv.Addr, tt.reflection)
			gw := startBridgeGateway(t, yaml, files)

			resp := gw.do(t, "POST", "/v1/users/42?tags=a&tags=b&role=ROLE_ADMIN",
				map[string]string{"X-Tenant": "acme", "X-Request-Id": "rid-1", "Content-Type": "application/json"},
				`{"verbose": true, "filter": {"city": "Oslo", "zip": 150}}`)
			if resp.StatusCode() != 200 {
				t.Fatalf("status %d, body %s", resp.StatusCode(), resp.Body())
			}
			var got map[string]any
			if err := json.Unmarshal(resp.Body(), &got); err != nil {
				t.Fatalf("answer is not JSON: %s", resp.Body())
			}
			if got["id"] != "42" || got["name"] != "user-42" || got["role"] != "ROLE_ADMIN" || got["active"] != true {
				t.Errorf("answer %s: want id 42, name user-42, role ROLE_ADMIN, active", resp.Body())
			}
			want := `{"filter":{"city":"Oslo","zip":150},"id":"42","role":"ROLE_ADMIN","tags":["a","b"],"verbose":true}`
			if got := srv.LastRequest(); got != want {
				t.Errorf("server received %s, want %s", got, want)
			}
			md := srv.LastMetadata()
			if v := md.Get("x-tenant"); len(v) != 1 || v[0] != "acme" {
				t.Errorf("metadata x-tenant = %v, want [acme]", v)
			}
			if v := md.Get("x-request-id"); len(v) != 1 || v[0] != "rid-1" {
				t.Errorf("metadata x-request-id = %v, want [rid-1]", v)
			}
			if v := string(resp.Header.Peek("X-Served-By")); v != "users-1" {
				t.Errorf("X-Served-By = %q, want the server's response metadata", v)
			}
			if got := gw.metric(t, `gateway_grpc_requests_total{grpc_code="OK",route="get-user"}`); got != 1 {
				t.Errorf("gateway_grpc_requests_total OK = %v, want 1", got)
			}
		})
	}
}

func TestGRPCBridgeStatusCodes(t *testing.T) {
	srv := grpctest.Start(t, grpctest.Options{})
	yaml, files := grpcConfig(srv.Addr, false)
	gw := startBridgeGateway(t, yaml, files)
	tests := []struct {
		code       int
		name       string
		wantStatus int
	}{
		{0, "OK", 200}, {1, "CANCELLED", 499}, {2, "UNKNOWN", 500}, {3, "INVALID_ARGUMENT", 400},
		{4, "DEADLINE_EXCEEDED", 504}, {5, "NOT_FOUND", 404}, {6, "ALREADY_EXISTS", 409},
		{7, "PERMISSION_DENIED", 403}, {8, "RESOURCE_EXHAUSTED", 429}, {9, "FAILED_PRECONDITION", 400},
		{10, "ABORTED", 409}, {11, "OUT_OF_RANGE", 400}, {12, "UNIMPLEMENTED", 501}, {13, "INTERNAL", 500},
		{14, "UNAVAILABLE", 503}, {15, "DATA_LOSS", 500}, {16, "UNAUTHENTICATED", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := gw.do(t, "POST", "/v1/fail", nil, `{"code": `+itoa(tt.code)+`, "message": "because", "details": true}`)
			if resp.StatusCode() != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode(), tt.wantStatus, resp.Body())
			}
			if tt.code == 0 {
				return
			}
			var body struct {
				Error, Code string
				Details     []map[string]any
			}
			if err := json.Unmarshal(resp.Body(), &body); err != nil || body.Error != "because" || body.Code != tt.name || len(body.Details) == 0 {
				t.Errorf("body %s: want the status message, code %s and details", resp.Body(), tt.name)
			}
		})
	}
}

func TestGRPCBridgeRefusesBadJSON(t *testing.T) {
	srv := grpctest.Start(t, grpctest.Options{})
	yaml, files := grpcConfig(srv.Addr, false)
	gw := startBridgeGateway(t, yaml, files)
	tests := []struct {
		desc, body, wantField string
	}{
		{desc: "unknown field", body: `{"verbose": true, "nope": 1}`, wantField: "nope"},
		{desc: "wrong type", body: `{"verbose": "yes"}`, wantField: "verbose"},
		{desc: "wrong nested type", body: `{"filter": {"zip": "x"}}`, wantField: "filter.zip"},
		{desc: "malformed JSON", body: `{"verbose": tru`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			resp := gw.do(t, "POST", "/v1/users/1", nil, tt.body)
			if resp.StatusCode() != 400 {
				t.Fatalf("status %d, want 400; body %s", resp.StatusCode(), resp.Body())
			}
			if tt.wantField != "" && !strings.Contains(string(resp.Body()), tt.wantField) {
				t.Errorf("body %s does not name the field %s", resp.Body(), tt.wantField)
			}
		})
	}
	if resp := gw.do(t, "GET", "/v1/users/abc", nil, ""); resp.StatusCode() != 400 {
		t.Errorf("a path parameter of the wrong type: status %d, want 400", resp.StatusCode())
	}
	if n := srv.Calls(); n != 0 {
		t.Errorf("the server got %d calls, want none", n)
	}
}

func TestGRPCBridgeFailuresTripTheBreaker(t *testing.T) {
	srv := grpctest.Start(t, grpctest.Options{})
	yaml, files := grpcConfig(srv.Addr, false)
	gw := startBridgeGateway(t, yaml, files)
	// Slow: 504 at the route's 300ms timeout, three times, and the breaker
	// opens.
	for i := range 3 {
		if resp := gw.do(t, "POST", "/v1/sleep", nil, `{"millis": 2000}`); resp.StatusCode() != 504 {
			t.Fatalf("slow call %d: status %d, want 504", i, resp.StatusCode())
		}
	}
	calls := srv.Calls()
	resp := gw.do(t, "POST", "/v1/sleep", nil, `{"millis": 1}`)
	if resp.StatusCode() != 503 || srv.Calls() != calls {
		t.Errorf("breaker open: status %d and %d more calls, want 503 and none", resp.StatusCode(), srv.Calls()-calls)
	}
	if got := gw.metric(t, `gateway_breaker_state{route="sleep"}`); got != 2 {
		t.Errorf("breaker state %v, want 2 (open)", got)
	}
	// Stopped: UNAVAILABLE, 503, without the server's address.
	srv.Stop()
	if resp := gw.do(t, "POST", "/v1/fail", nil, `{"code": 0}`); resp.StatusCode() != 503 || strings.Contains(string(resp.Body()), "127.0.0.1") {
		t.Errorf("server stopped: status %d, body %s; want 503 without the server's address", resp.StatusCode(), resp.Body())
	}
}

func TestGRPCBridgeServerStreaming(t *testing.T) {
	srv := grpctest.Start(t, grpctest.Options{})
	yaml, files := grpcConfig(srv.Addr, false)
	gw := startBridgeGateway(t, yaml, files)
	resp := gw.do(t, "POST", "/v1/watch", nil, `{"count": 3}`)
	lines := strings.Split(strings.TrimSpace(string(resp.Body())), "\n")
	if resp.StatusCode() != 200 || len(lines) != 3 {
		t.Fatalf("status %d, %d lines (%s); want 200 and 3 lines", resp.StatusCode(), len(lines), resp.Body())
	}
	for i, line := range lines {
		var u map[string]any
		if err := json.Unmarshal([]byte(line), &u); err != nil || u["id"] != itoa(i+1) {
			t.Errorf("line %d = %s, want the user with id %d", i, line, i+1)
		}
	}
}

// TestGRPCBridgeStreamCountsFinalCode: a stream's answer starts with a
// 200 head, but gateway_grpc_requests_total counts the status the stream
// ended with.
func TestGRPCBridgeStreamCountsFinalCode(t *testing.T) {
	srv := grpctest.Start(t, grpctest.Options{})
	yaml, files := grpcConfig(srv.Addr, false)
	gw := startBridgeGateway(t, yaml, files)
	for _, tt := range []struct {
		desc, give string
		wantLines  int
	}{
		{desc: "error after two messages", give: `{"count": 2, "fail_code": 5}`, wantLines: 3},
		{desc: "error before any message", give: `{"count": 0, "fail_code": 5}`, wantLines: 1},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			resp := gw.do(t, "POST", "/v1/watch", nil, tt.give)
			lines := strings.Split(strings.TrimSpace(string(resp.Body())), "\n")
			if resp.StatusCode() != 200 || len(lines) != tt.wantLines || !strings.Contains(lines[len(lines)-1], `"NOT_FOUND"`) {
				t.Fatalf("status %d, body %q; want 200, %d lines, the last one the NOT_FOUND error", resp.StatusCode(), resp.Body(), tt.wantLines)
			}
		})
	}
	if got := gw.metric(t, `gateway_grpc_requests_total{grpc_code="NOT_FOUND",route="watch"}`); got != 2 {
		t.Errorf("streams counted NOT_FOUND %v times, want 2", got)
	}
	if got := gw.metric(t, `gateway_grpc_requests_total{grpc_code="OK",route="watch"}`); got != -1 {
		t.Errorf("streams counted OK %v times, want none", got)
	}
	if resp := gw.do(t, "POST", "/v1/watch", nil, `{"count": 1}`); resp.StatusCode() != 200 {
		t.Fatalf("a stream that ends well: status %d", resp.StatusCode())
	}
	if got := gw.metric(t, `gateway_grpc_requests_total{grpc_code="OK",route="watch"}`); got != 1 {
		t.Errorf("a stream that ended OK counted %v times, want 1", got)
	}
}

func TestGRPCBridgeConfigErrorsNameTheMethod(t *testing.T) {
	srv := grpctest.Start(t, grpctest.Options{})
	for _, method := range []string{"test.v1.Users/Nope", "test.v1.Users/Upload"} {
		yaml := `
routes:
  - name: r
    match: { path: /r }
    grpc: { target: "` + srv.Addr + `", method: ` + method + `, descriptors: users.pb }
`
		_, err := newBridgeGateway(t, yaml, map[string][]byte{"users.pb": grpctest.DescriptorSet()})
		if err == nil || !strings.Contains(err.Error(), method) {
			t.Errorf("method %s: error %v, want one naming the method", method, err)
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestGRPCBridgeStoppedServerTripsTheBreaker(t *testing.T) {
	srv := grpctest.Start(t, grpctest.Options{})
	yaml, files := grpcConfig(srv.Addr, false)
	gw := startBridgeGateway(t, yaml, files)
	if resp := gw.do(t, "POST", "/v1/sleep", nil, `{"millis": 1}`); resp.StatusCode() != 200 {
		t.Fatalf("server up: status %d", resp.StatusCode())
	}
	srv.Stop()
	for i := range 3 {
		if resp := gw.do(t, "POST", "/v1/sleep", nil, `{"millis": 1}`); resp.StatusCode() != 503 {
			t.Fatalf("server stopped, call %d: status %d, want 503", i, resp.StatusCode())
		}
	}
	if got := gw.metric(t, `gateway_breaker_state{route="sleep"}`); got != 2 {
		t.Errorf("breaker state %v after three UNAVAILABLE, want 2 (open)", got)
	}
	if got := gw.metric(t, `gateway_grpc_requests_total{grpc_code="UNAVAILABLE",route="sleep"}`); got != 3 {
		t.Errorf("UNAVAILABLE calls counted %v, want 3 (the fourth is the breaker's)", got)
	}
}

// TestGRPCBridgeFollowsEtcd: a target etcd://NAME calls the instances etcd
// lists, and follows them when they change.
func TestGRPCBridgeFollowsEtcd(t *testing.T) {
	endpoint := needService(t, "etcd", "127.0.0.1:2379")
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	prefix := "/gwtest-" + strings.ToLower(token(t)) + "/"
	defer cli.Delete(context.Background(), prefix, clientv3.WithPrefix())
	a := grpctest.Start(t, grpctest.Options{Name: "a"})
	b := grpctest.Start(t, grpctest.Options{Name: "b"})
	value := func(srv *grpctest.Server) string {
		host, port, _ := net.SplitHostPort(srv.Addr)
		p, _ := strconv.Atoi(port)
		v, _ := json.Marshal(etcd.Value{Address: host, Port: p})
		return string(v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, etcd.Key(prefix, "users", "a"), value(a)); err != nil {
		t.Fatal(err)
	}
	gw := startBridgeGateway(t, `
discovery:
  etcd: { endpoints: ["http://`+endpoint+`"], prefix: "`+prefix+`" }
routes:
  - name: get-user
    match: { path: "/v1/users/{id}", methods: [GET] }
    grpc: { target: "etcd://users", method: test.v1.Users/GetUser, descriptors: users.pb, response_metadata: [x-served-by] }
`, map[string][]byte{"users.pb": grpctest.DescriptorSet()})
	served := func() string { return string(gw.do(t, "GET", "/v1/users/1", nil, "").Header.Peek("X-Served-By")) }
	if got := served(); got != "a" {
		t.Fatalf("served by %q, want a, the one instance etcd lists", got)
	}
	// b joins and a leaves in one transaction, one revision: no moment
	// lists both, so the first call served by b is after a left.
	if _, err := cli.Txn(ctx).Then(
		clientv3.OpPut(etcd.Key(prefix, "users", "b"), value(b)),
		clientv3.OpDelete(etcd.Key(prefix, "users", "a")),
	).Commit(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "calls moving to b", func() bool { return served() == "b" })
	for range 5 {
		if got := served(); got != "b" {
			t.Fatalf("served by %q after a left etcd, want b", got)
		}
	}
}
