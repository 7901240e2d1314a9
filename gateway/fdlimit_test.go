//go:build unix

package gateway

import (
	"context"
	"syscall"
	"testing"

	"github.com/fastgate/gateway/config"
)

func TestConcurrencyFor(t *testing.T) {
	for _, tt := range []struct {
		desc string
		give uint64
		want int
	}{
		{desc: "tiny limit", give: 100, want: 64},
		{desc: "Debian default soft limit", give: 1024, want: 672},
		{desc: "a common service limit", give: 65536, want: 49056},
		{desc: "container hard limit", give: 1 << 20, want: 256 << 10},
		{desc: "unlimited", give: 1<<63 - 1, want: 256 << 10},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if got := concurrencyFor(tt.give); got != tt.want {
				t.Errorf("concurrencyFor(%d) = %d, want %d", tt.give, got, tt.want)
			}
		})
	}
}

// TestFileLimitRaisesSoftLimit: the soft open-file limit is raised to the
// hard one, and a configuration without server.concurrency gets the
// default that the limit in force allows, not fasthttp's 256Ki.
func TestFileLimitRaisesSoftLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// Go raised it at start; lower it as a service manager may have left
	// it (never below what the tests may have open), then restore.
	lowered := lim
	lowered.Cur = max(lim.Max/2, 4096)
	if lowered.Cur >= lim.Max {
		t.Skipf("the hard limit %d leaves no room below it", lim.Max)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim) })

	cfg, err := config.Parse([]byte(adminRoutes), "fd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gw, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Shutdown(context.Background())
	if got, want := gw.Concurrency(), concurrencyFor(lowered.Cur); got != want {
		t.Errorf("default concurrency under a soft limit of %d: %d, want %d", lowered.Cur, got, want)
	}

	soft, hard, err := FileLimit()
	if err != nil {
		t.Fatal(err)
	}
	if soft != hard || hard != lim.Max {
		t.Errorf("FileLimit() = %d, %d, want the soft limit raised to the hard %d", soft, hard, lim.Max)
	}
	var now syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now); err != nil {
		t.Fatal(err)
	}
	if now.Cur != lim.Max {
		t.Errorf("soft limit in force %d, want %d", now.Cur, lim.Max)
	}

	cfg.Server.Concurrency = 1000
	gw2, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gw2.Shutdown(context.Background())
	if gw2.Concurrency() != 1000 {
		t.Errorf("server.concurrency 1000 became %d", gw2.Concurrency())
	}
}
