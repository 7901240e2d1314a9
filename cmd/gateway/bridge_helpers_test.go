package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
)

// bridgeGateway is a gateway built with the real bridges, as the binary
// builds it, serving on loopback.
type bridgeGateway struct {
	gw     *gateway.Gateway
	addr   string
	admin  *httptest.Server
	client *fasthttp.Client
}

// startBridgeGateway writes yaml (and files, by name) to a directory,
// loads it and serves it.
func startBridgeGateway(t testing.TB, yaml string, files map[string][]byte) *bridgeGateway {
	t.Helper()
	gw, err := newBridgeGateway(t, yaml, files)
	if err != nil {
		t.Fatal(err)
	}
	return serveBridgeGateway(t, gw)
}

// serveBridgeGateway serves gw on a loopback port, with its admin handler
// beside it, until the test ends.
func serveBridgeGateway(t testing.TB, gw *gateway.Gateway) *bridgeGateway {
	t.Helper()
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

// newBridgeGateway builds the gateway of yaml without serving it.
func newBridgeGateway(t testing.TB, yaml string, files map[string][]byte) (*gateway.Gateway, error) {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte("admin: \"off\"\n"+yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return newGatewayFor(t, cfg, brokerFactory(slog.New(slog.NewTextHandler(io.Discard, nil))))
}

// newGatewayFor builds cfg's gateway as the binary does: discovery
// sources, brokers (through connect) and gRPC backends.
func newGatewayFor(t testing.TB, cfg *config.Config, connect gateway.BrokerFactory) (*gateway.Gateway, error) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sources, closeSources, err := discoverySources(cfg, log)
	if err != nil {
		return nil, err
	}
	t.Cleanup(closeSources)
	grpcs := &grpcBackends{log: log}
	return gateway.New(cfg, gateway.Options{Logger: log, Sources: sources, Brokers: connect, GRPC: grpcs.build})
}

// do sends one request and returns the response (released by the test's
// end).
func (b *bridgeGateway) do(t *testing.T, method, path string, hdr map[string]string, body string) *fasthttp.Response {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + b.addr + path)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if body != "" {
		req.SetBodyString(body)
	}
	resp := &fasthttp.Response{}
	if err := b.client.DoTimeout(req, resp, 30*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// metric returns the value of one series on the admin listener, -1 when
// absent.
func (b *bridgeGateway) metric(t *testing.T, series string) float64 {
	t.Helper()
	body := get(t, strings.TrimPrefix(b.admin.URL, "http://"), "/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return f
			}
		}
	}
	return -1
}
