package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/bridge/grpcbridge/grpctest"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
	"github.com/fastgate/gateway/internal/logtest"
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

const (
	outageLine = "gRPC schema cannot be fetched"
	backLine   = "gRPC schema fetched, the route serves again"
)

func TestGRPCReflectionServerDownAtStart(t *testing.T) {
	addr := freeAddr(t)
	var logs logtest.Buffer
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
	if n, m := logs.Count(outageLine), logs.Count(backLine); n != 1 || m != 1 {
		t.Errorf("logged the outage %d times and its end %d times, want once each", n, m)
	}
}

func TestGRPCReflectionServerDownDuringReload(t *testing.T) {
	srv := grpctest.Start(t, grpctest.Options{Reflection: grpctest.ReflectionV1})
	addr := srv.Addr
	yaml := strings.ReplaceAll(reflectionRoutes, "{ADDR}", addr)
	var logs logtest.Buffer
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
	if n := logs.Count(outageLine); n != 1 {
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
	gw, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), GRPC: backends.build, GRPCCheck: checkGRPCRoute})
	if err != nil {
		t.Fatal(err)
	}
	return serveBridgeGateway(t, gw)
}

// TestGRPCValidateChecksRoutesOffline: gateway validate refuses, with the
// route's position, what building a descriptor-set route refuses, and
// says what it cannot check of a reflection route. No server runs.
func TestGRPCValidateChecksRoutesOffline(t *testing.T) {
	for _, tt := range []struct {
		desc, method, path string
		reflection         bool
		wantCode           int
		want               string // in stderr when wantCode is 1, else in stdout
	}{
		{desc: "method found", method: "test.v1.Users/GetUser", path: "/v1/users/{id}", wantCode: 0, want: "ok (1 routes)"},
		{desc: "missing method", method: "test.v1.Users/Nope", path: "/r", wantCode: 1, want: "test.v1.Users/Nope"},
		{desc: "client streaming", method: "test.v1.Users/Upload", path: "/r", wantCode: 1, want: "streams from the client"},
		{desc: "path parameter without a field", method: "test.v1.Users/GetUser", path: "/v1/users/{nope}", wantCode: 1, want: "path parameter {nope}"},
		{desc: "reflection", method: "test.v1.Users/Nope", path: "/r", reflection: true, wantCode: 0,
			want: "route r: grpc: not checked offline: schema comes from the server by reflection"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "users.pb"), grpctest.DescriptorSet(), 0o644); err != nil {
				t.Fatal(err)
			}
			schema := "descriptors: users.pb"
			if tt.reflection {
				schema = "reflection: true"
			}
			file := filepath.Join(dir, "gateway.yaml")
			yaml := "routes:\n  - name: r\n    match: { path: \"" + tt.path + "\" }\n" +
				"    grpc: { target: \"127.0.0.1:1\", method: " + tt.method + ", " + schema + " }\n"
			if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := runMain([]string{"validate", file}, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q, stderr %q", code, tt.wantCode, stdout.String(), stderr.String())
			}
			out := stdout.String()
			if code == 1 {
				out = stderr.String()
				if !strings.HasPrefix(out, file+":2:5: routes[0]: grpc: ") {
					t.Errorf("stderr %q: want the route's file:line:col first", out)
				}
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output %q does not say %q", out, tt.want)
			}
		})
	}
}

// TestGRPCDryRunAgreesWithReload: a dry run refuses the descriptor-set
// route a reload refuses, and passes (with a note) the reflection route
// of an unreachable server that a reload applies.
func TestGRPCDryRunAgreesWithReload(t *testing.T) {
	addr := freeAddr(t)
	gw := startBridgeGatewayWith(t, strings.ReplaceAll(reflectionRoutes, "{ADDR}", addr), &grpcBackends{log: slog.New(slog.DiscardHandler)})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.pb"), grpctest.DescriptorSet(), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := loadConfig(t, dir, "bad.yaml", strings.ReplaceAll(reflectionRoutes+`  - name: nope
    match: { path: /nope }
    grpc: { target: "{ADDR}", method: test.v1.Users/Nope, descriptors: users.pb }
`, "{ADDR}", addr))
	preview, perr := gw.gw.Preview(bad)
	_, aerr := gw.gw.Apply(bad)
	if perr == nil || aerr == nil || !strings.Contains(perr.Error(), "bad.yaml:10:5: routes[2]: grpc: ") {
		t.Errorf("a missing method: dry run %v, reload %v; want both refused, the dry run with the position", perr, aerr)
	}
	if len(preview.Errors) == 0 {
		t.Error("the dry run's result lists no error")
	}
	unchanged := loadConfig(t, dir, "same.yaml", strings.ReplaceAll(reflectionRoutes, "{ADDR}", addr))
	preview, perr = gw.gw.Preview(unchanged)
	if perr != nil || len(preview.Notes) != 1 || !strings.Contains(preview.Notes[0], "route get-user: grpc: not checked offline") {
		t.Errorf("reflection route, server down: dry run %v, notes %q; want no error and the note", perr, preview.Notes)
	}
	if res, err := gw.gw.Apply(unchanged); err != nil || !res.Applied {
		t.Errorf("reflection route, server down: reload %v, want it applied as the dry run said", err)
	}
}

// TestGRPCReflectionRemovedRouteLeavesNoSeries: a route removed while its
// server is down still fetches until it is closed (after the drain);
// when that fetch succeeds, the removed route's gauge stays gone.
func TestGRPCReflectionRemovedRouteLeavesNoSeries(t *testing.T) {
	addr := freeAddr(t)
	var logs logtest.Buffer
	gw := startBridgeGatewayWith(t, strings.ReplaceAll(reflectionRoutes, "{ADDR}", addr),
		&grpcBackends{log: slog.New(slog.NewTextHandler(&logs, nil))})
	const series = `gateway_grpc_schema_ready{route="get-user"}`
	if got := gw.metric(t, series); got != 0 {
		t.Fatalf("%s = %v, want 0", series, got)
	}
	hello := "\nroutes:\n  - name: hello\n    match: { path: /hello }\n    respond: { body: hi }\n"
	if _, err := gw.gw.Apply(loadConfig(t, t.TempDir(), "gateway.yaml", hello)); err != nil {
		t.Fatal(err)
	}
	if got := gw.metric(t, series); got != -1 {
		t.Fatalf("%s = %v after the route left, want no series", series, got)
	}
	grpctest.Start(t, grpctest.Options{Addr: addr, Reflection: grpctest.ReflectionV1})
	waitFor(t, "the retiring route fetching its schema", func() bool { return logs.Count(backLine) == 1 })
	if got := gw.metric(t, series); got != -1 {
		t.Errorf("%s = %v after the removed route fetched its schema, want no series", series, got)
	}
}

// TestGRPCReflectionRequestFetchesSchema: with the background retry an
// hour away, a request after the server came back makes the route fetch
// its schema (at most once a second) and serve.
func TestGRPCReflectionRequestFetchesSchema(t *testing.T) {
	addr := freeAddr(t)
	gw := startBridgeGatewayWith(t, strings.ReplaceAll(reflectionRoutes, "{ADDR}", addr),
		&grpcBackends{log: slog.New(slog.DiscardHandler), retryWait: time.Hour})
	if resp := gw.do(t, "GET", "/v1/users/7", nil, ""); resp.StatusCode() != 503 {
		t.Fatalf("server down: status %d, want 503", resp.StatusCode())
	}
	grpctest.Start(t, grpctest.Options{Addr: addr, Reflection: grpctest.ReflectionV1})
	waitFor(t, "a request bringing the schema", func() bool {
		return gw.do(t, "GET", "/v1/users/7", nil, "").StatusCode() == 200
	})
}

// TestBinaryGRPCServerDown: `gateway run` starts with a reflection route
// whose server is down, and its dry-run reloads check gRPC routes as
// gateway validate does.
func TestBinaryGRPCServerDown(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.pb"), grpctest.DescriptorSet(), 0o644); err != nil {
		t.Fatal(err)
	}
	grpcAddr, admin := freeAddr(t), freeAddr(t)
	base := "listen: \"127.0.0.1:0\"\nadmin: \"" + admin + "\"\n" + strings.ReplaceAll(reflectionRoutes, "{ADDR}", grpcAddr)
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	_, addr := startBinary(t, bin, cfg)
	if resp := get(t, addr, "/hello"); !strings.HasPrefix(resp, "HTTP/1.1 200") {
		t.Errorf("the other route:\n%s", resp)
	}
	if resp := get(t, addr, "/v1/users/1"); !strings.HasPrefix(resp, "HTTP/1.1 503") {
		t.Errorf("the route of the server that is down:\n%s", resp)
	}
	dryRun := func() (int, string) {
		t.Helper()
		client := &http.Client{Timeout: 10 * time.Second}
		resp, err := client.Post("http://"+admin+"/-/reload?dry_run=true", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := dryRun(); code != 200 || !strings.Contains(body, "route get-user: grpc: not checked offline") {
		t.Errorf("dry run: %d %s; want 200 and the reflection route's note", code, body)
	}
	bad := base + "  - name: nope\n    match: { path: /nope }\n    grpc: { target: \"" + grpcAddr + "\", method: test.v1.Users/Nope, descriptors: users.pb }\n"
	if err := os.WriteFile(cfg, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, body := dryRun(); code != 400 || !strings.Contains(body, "gateway.yaml:11:5: routes[2]: grpc: ") {
		t.Errorf("dry run of a missing method: %d %s; want 400 and the position", code, body)
	}
}
