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
	// slow answers when released; stuck never answers.
	slow, stuck := heldListener(t), heldListener(t)
	admin := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "g.yaml")
	// shutdown_delay leaves room for two loopback requests between
	// /readyz turning 503 and the end of the delay on a loaded machine.
	const delay = time.Second
	if err := os.WriteFile(cfg, []byte(`listen: "127.0.0.1:0"
admin: "`+admin+`"
server: { drain_timeout: 2s, shutdown_delay: 1s }
routes:
  - { name: slow, match: { path: /slow }, upstream: { targets: ["http://`+slow.addr+`"], timeout: 1m } }
  - { name: stuck, match: { path: /stuck }, upstream: { targets: ["http://`+stuck.addr+`"], timeout: 1m } }
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
	slow.waitArrived(t)
	stuck.waitArrived(t)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got := get(t, admin, "/readyz")
		if strings.HasPrefix(got, "HTTP/1.1 503") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz 5s after SIGTERM: %q, want 503", got)
		}
	}
	if got, err := tryGet(addr, "/hello"); !strings.HasSuffix(got, "hi") {
		t.Errorf("a new request within shutdown_delay (%v after SIGTERM): %q %v, want it served", time.Since(start), got, err)
	}
	// Once the delay is over the listener closes; the slow request is
	// still in flight, and is answered only now, during the drain.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("new connections still accepted 10s after SIGTERM")
		}
	}
	slow.release()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		if d := time.Since(start); d < delay {
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

// held is an HTTP upstream that holds every request until released (or
// the test ends) and says when the first one arrived.
type held struct {
	addr     string
	arrived  chan struct{}
	released chan struct{}
	once     sync.Once
}

func (h *held) release() { h.once.Do(func() { close(h.released) }) }

func (h *held) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-h.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the upstream within 10s")
	}
}

// heldListener starts a held upstream on loopback.
func heldListener(t *testing.T) *held {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	h := &held{addr: ln.Addr().String(), arrived: make(chan struct{}), released: make(chan struct{})}
	var arrive sync.Once
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
						arrive.Do(func() { close(h.arrived) })
						select {
						case <-h.released:
						case <-t.Context().Done():
							return
						}
						_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
					}
				}
			}()
		}
	}()
	return h
}

// tryGet is get for a request that may be refused.
func tryGet(addr, path string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := io.ReadAll(c)
	return string(resp), err
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
