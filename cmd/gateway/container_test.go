package main

import (
	"context"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
)

const containerConfig = "../../configs/container.yaml"

// TestContainerConfig: the image's built-in configuration validates,
// keeps the admin listener on loopback, needs nothing outside the
// container, answers by itself, and is the one the Dockerfile ships.
func TestContainerConfig(t *testing.T) {
	cfg, err := config.Load(containerConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := gateway.Check(cfg); err != nil {
		t.Fatal(err)
	}
	ap, err := netip.ParseAddrPort(cfg.Admin)
	if err != nil || !ap.Addr().IsLoopback() {
		t.Errorf("admin %q, want a loopback address", cfg.Admin)
	}
	for _, r := range cfg.Routes {
		if r.Respond == nil {
			t.Errorf("route %s does not answer by itself: nothing to proxy to exists in the container", r.Name)
		}
	}
	if len(cfg.Brokers) > 0 || cfg.Redis != nil || cfg.Discovery.Consul != nil || cfg.Discovery.Etcd != nil {
		t.Error("the container configuration names services that do not exist in the container")
	}

	docker, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^COPY configs/container\.yaml /etc/gateway/gateway\.yaml$`).Match(docker) ||
		!strings.Contains(string(docker), `"-config", "/etc/gateway/gateway.yaml"`) {
		t.Error("the Dockerfile does not ship configs/container.yaml as /etc/gateway/gateway.yaml")
	}

	// Served, it answers /hello and says what it is for anything else.
	gw, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = gw.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		<-done
	}()
	addr := ln.Addr().String()
	if resp := get(t, addr, "/hello"); !strings.HasPrefix(resp, "HTTP/1.1 200") {
		t.Errorf("GET /hello:\n%s", resp)
	}
	if resp := get(t, addr, "/healthz"); !strings.HasPrefix(resp, "HTTP/1.1 200") {
		t.Errorf("GET /healthz:\n%s", resp)
	}
	if resp := get(t, addr, "/api/users"); !strings.HasPrefix(resp, "HTTP/1.1 404") || !strings.Contains(resp, "mount your own") {
		t.Errorf("GET /api/users:\n%s", resp)
	}
}
