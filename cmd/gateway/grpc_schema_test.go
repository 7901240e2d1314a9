package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/bridge/grpc/grpctest"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
)

// reflectionRoutes are a reflection route on {ADDR} beside one that does
// not need it.
const reflectionRoutes = `
routes:
  - name: hello
    match: { path: /hello }
    respond: { body: hi }
  - name: get-user
    match: { path: "/v1/users/{id}", methods: [GET] }
    grpc: { target: "{ADDR}", method: test.v1.Users/GetUser, reflection: true }
`

// loadConfig writes yaml to dir/name and loads it.
func loadConfig(t *testing.T, dir, name, yaml string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("admin: \"off\"\n"+yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// syncBuffer is a log output tests read while the gateway writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

const (
	outageLine = "gRPC schema cannot be fetched"
	backLine   = "gRPC schema fetched, the route serves again"
)

func TestGRPCReflectionServerDownAtStart(t *testing.T) {
	addr := freeAddr(t)
	var logs syncBuffer
	backends := &grpcBackends{log: slog.New(slog.NewTextHandler(&logs, nil))}
	gw := startBridgeGatewayWith(t, strings.ReplaceAll(reflectionRoutes, "{ADDR}", addr), backends)

	if resp := gw.do(t, "GET", "/hello", nil, ""); resp.StatusCode() != 200 {
		t.Fatalf("the other route: status %d, want 200", resp.StatusCode())
	}
	for range 3 {
		resp := gw.do(t, "GET", "/v1/users/7", nil, "")
		if resp.StatusCode() != 503 || !strings.Contains(string(resp.Body()), "schema not available") {
			t.Fatalf("server down: status %d, body %s; want 503, schema not available", resp.StatusCode(), resp.Body())
		}
	}
	if got := gw.metric(t, `gateway_grpc_schema_ready{route="get-user"}`); got != 0 {
		t.Errorf("gateway_grpc_schema_ready = %v, want 0", got)
	}

	srv := grpctest.Start(t, grpctest.Options{Addr: addr, Reflection: grpctest.ReflectionV1})
	waitFor(t, "the route serving once the server is up", func() bool {
		return gw.do(t, "GET", "/v1/users/7", nil, "").StatusCode() == 200
	})
	if got := gw.metric(t, `gateway_grpc_schema_ready{route="get-user"}`); got != 1 {
		t.Errorf("gateway_grpc_schema_ready = %v once served, want 1", got)
	}
	if srv.Calls() == 0 {
		t.Error("the server got no call")
	}
	if n, m := logs.count(outageLine), logs.count(backLine); n != 1 || m != 1 {
		t.Errorf("logged the outage %d times and its end %d times, want once each", n, m)
	}
}

func TestGRPCReflectionServerDownDuringReload(t *testing.T) {
	srv := grpctest.Start(t, grpctest.Options{Reflection: grpctest.ReflectionV1})
	addr := srv.Addr
	yaml := strings.ReplaceAll(reflectionRoutes, "{ADDR}", addr)
	var logs syncBuffer
	backends := &grpcBackends{log: slog.New(slog.NewTextHandler(&logs, nil))}
	gw := startBridgeGatewayWith(t, yaml, backends)
	if resp := gw.do(t, "GET", "/v1/users/7", nil, ""); resp.StatusCode() != 200 {
		t.Fatalf("server up: status %d, body %s", resp.StatusCode(), resp.Body())
	}
	srv.Stop()

	dir := t.TempDir()
	for i, next := range []string{
		yaml, // nothing changed
		yaml + "  - name: other\n    match: { path: /other }\n    respond: { body: other }\n",
	} {
		res, err := gw.gw.Apply(loadConfig(t, dir, "gateway.yaml", next))
		if err != nil || !res.Applied {
			t.Fatalf("reload %d with the server down: %v (%v), want it applied", i, err, res.Errors)
		}
	}
	if resp := gw.do(t, "GET", "/other", nil, ""); resp.StatusCode() != 200 {
		t.Errorf("the added route: status %d, want 200", resp.StatusCode())
	}
	// The route kept its schema: it calls the server, which is down.
	resp := gw.do(t, "GET", "/v1/users/7", nil, "")
	if resp.StatusCode() != 503 || !strings.Contains(string(resp.Body()), "upstream unavailable") {
		t.Errorf("server down after reloads: status %d, body %s; want the call's 503 (schema kept)", resp.StatusCode(), resp.Body())
	}
	if got := gw.metric(t, `gateway_grpc_schema_ready{route="get-user"}`); got != 1 {
		t.Errorf("gateway_grpc_schema_ready = %v, want 1 (schema kept)", got)
	}
	if n := logs.count(outageLine); n != 1 {
		t.Errorf("the outage logged %d times over two reloads, want once", n)
	}

	grpctest.Start(t, grpctest.Options{Addr: addr, Reflection: grpctest.ReflectionV1})
	waitFor(t, "the route serving once the server is back", func() bool {
		return gw.do(t, "GET", "/v1/users/7", nil, "").StatusCode() == 200
	})
}

// startBridgeGatewayWith is startBridgeGateway with the gRPC backends
// given.
func startBridgeGatewayWith(t *testing.T, yaml string, backends *grpcBackends) *bridgeGateway {
	t.Helper()
	cfg := loadConfig(t, t.TempDir(), "gateway.yaml", yaml)
	gw, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), GRPC: backends.build})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = gw.Serve(ln) }()
	b := &bridgeGateway{gw: gw, addr: ln.Addr().String(), admin: httptest.NewServer(gw.AdminHandler()),
		client: &fasthttp.Client{ReadTimeout: 30 * time.Second}}
	t.Cleanup(func() {
		b.admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		<-served
	})
	return b
}
