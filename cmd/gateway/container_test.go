package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/gateway"
	"github.com/fastgate/gateway/internal/logtest"
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

// TestContainerPlaceholderLogged: started with the image's built-in
// configuration, the gateway says in its log that it runs the
// placeholder and that the operator should mount their own; with another
// configuration it says nothing of the kind.
func TestContainerPlaceholderLogged(t *testing.T) {
	for _, tt := range []struct {
		file string
		want int
	}{
		{file: containerConfig, want: 1},
		{file: "../../configs/gateway.yaml", want: 0},
	} {
		cfg, err := config.Load(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		var logs logtest.Buffer
		warnPlaceholder(cfg, tt.file, slog.New(slog.NewJSONHandler(&logs, nil)))
		lines := logs.Lines(t, "gateway: running the container image's placeholder configuration, which proxies nothing: mount your own over it")
		if len(lines) != tt.want {
			t.Fatalf("%s: %d placeholder lines, want %d: %s", tt.file, len(lines), tt.want, logs.String())
		}
		if tt.want == 1 && (lines[0]["level"] != "WARN" || lines[0]["file"] != tt.file) {
			t.Errorf("placeholder line %v: want WARN naming the file", lines[0])
		}
	}
}

// TestDockerfileBasesPinned: every base image of the Dockerfile is
// pinned by digest, so that a rebuild takes the same bases.
func TestDockerfileBasesPinned(t *testing.T) {
	docker, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	from := regexp.MustCompile(`(?m)^FROM\s+(?:--\S+\s+)*(\S+)`)
	pinned := regexp.MustCompile(`^[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}$`)
	bases := from.FindAllStringSubmatch(string(docker), -1)
	if len(bases) == 0 {
		t.Fatal("no FROM line in the Dockerfile")
	}
	for _, m := range bases {
		if !pinned.MatchString(m[1]) {
			t.Errorf("base image %q is not pinned by digest (NAME:TAG@sha256:...)", m[1])
		}
	}
}
