// Package testserver runs private Redis and NATS servers on loopback
// ports for tests that stop and restart a server under a client. A test
// that needs no outage uses the shared servers make test starts instead.
package testserver

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is one server process a test owns. Its methods must be called
// from the test's goroutine.
type Server struct {
	t     testing.TB
	bin   string
	port  int
	args  []string
	ready func(c net.Conn) bool // reads the server's first answer on c
	cmd   *exec.Cmd
}

// Redis returns a redis-server on a free loopback port, without
// persistence, not started yet; it is killed when the test ends. Without
// redis-server the test is skipped, or fails when REQUIRE_SERVICES is set
// (make test sets it).
func Redis(t testing.TB) *Server {
	t.Helper()
	s := newServer(t, "redis-server", "/usr/bin/redis-server")
	s.args = []string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"}
	s.ready = func(c net.Conn) bool {
		buf := make([]byte, 7)
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return false
		}
		_, err := c.Read(buf)
		return err == nil && string(buf) == "+PONG\r\n"
	}
	return s
}

// NATS returns a nats-server with JetStream (its store in a directory of
// the test's) on a free loopback port, not started yet; it is killed when
// the test ends. Without nats-server the test is skipped, or fails when
// REQUIRE_SERVICES is set.
func NATS(t testing.TB) *Server {
	t.Helper()
	s := newServer(t, "nats-server", "/usr/sbin/nats-server")
	s.args = []string{"-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js", "-sd", t.TempDir()}
	s.ready = func(c net.Conn) bool {
		line, err := bufio.NewReader(c).ReadString('\n')
		return err == nil && strings.HasPrefix(line, "INFO ")
	}
	return s
}

func newServer(t testing.TB, name, fallback string) *Server {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		bin = fallback
		if _, serr := os.Stat(bin); serr != nil {
			if os.Getenv("REQUIRE_SERVICES") != "" {
				t.Fatalf("%s: %v (REQUIRE_SERVICES is set)", name, err)
			}
			t.Skipf("%s: %v", name, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, bin: bin, port: port}
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Start runs the server and waits, at most 10 seconds, until it answers.
// It returns s.
func (s *Server) Start() *Server {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, s.args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", s.Addr(), 100*time.Millisecond)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			ok := s.ready(c)
			c.Close()
			if ok {
				return s
			}
		}
		if i >= 500 || time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("%s on %s not ready after 10s", s.bin, s.Addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server, as a crash would, and waits for it to exit. A
// stopped server may be started again on the same port.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
