package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestShutdownSequence: on SIGTERM the gateway first reports not ready,
// keeps serving for server.shutdown_delay, answers requests in flight
// with Connection: close, and exits by server.drain_timeout even though
// an upstream never answers.
func TestShutdownSequence(t *testing.T) {
	// slow answers after 700ms; stuck never answers.
	slow, stuck := slowListener(t, 700*time.Millisecond), slowListener(t, time.Hour)
	admin := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "g.yaml")
	if err := os.WriteFile(cfg, []byte(`listen: "127.0.0.1:0"
admin: "`+admin+`"
server: { drain_timeout: 2s, shutdown_delay: 500ms }
routes:
  - { name: slow, match: { path: /slow }, upstream: { targets: ["http://`+slow+`"], timeout: 1m } }
  - { name: stuck, match: { path: /stuck }, upstream: { targets: ["http://`+stuck+`"], timeout: 1m } }
  - { name: hello, match: { path: /hello }, respond: { body: hi } }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, addr := startBinary(t, buildBinary(t), cfg)
	if got := get(t, admin, "/readyz"); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("readyz before SIGTERM: %q", got)
	}
	var wg sync.WaitGroup
	var slowAnswer string
	wg.Go(func() { get(t, addr, "/stuck") })
	wg.Go(func() { slowAnswer = keepAliveGet(t, addr, "/slow") })
	time.Sleep(100 * time.Millisecond) // both in flight
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := get(t, admin, "/readyz"); !strings.HasPrefix(got, "HTTP/1.1 503") {
		t.Errorf("readyz right after SIGTERM: %q, want 503", got)
	}
	if got := get(t, addr, "/hello"); !strings.HasSuffix(got, "hi") {
		t.Errorf("a new request within shutdown_delay: %q, want it served", got)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		if d := time.Since(start); d < 500*time.Millisecond {
			t.Errorf("exited %v after SIGTERM, before shutdown_delay", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after SIGTERM with drain_timeout 2s and a stuck upstream")
	}
	wg.Wait()
	if !strings.HasPrefix(slowAnswer, "HTTP/1.1 200") || !strings.Contains(strings.ToLower(slowAnswer), "connection: close") {
		t.Errorf("request in flight at SIGTERM got %q, want 200 with Connection: close", slowAnswer)
	}
}

// slowListener accepts HTTP requests and answers each after delay.
func slowListener(t *testing.T, delay time.Duration) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						select {
						case <-time.After(delay):
						case <-t.Context().Done():
							return
						}
						_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// keepAliveGet sends one GET without asking to close and returns the
// answer as read until the gateway closes the connection (or 10s).
func keepAliveGet(t *testing.T, addr, path string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
	b, _ := io.ReadAll(c)
	return string(b)
}
