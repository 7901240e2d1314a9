package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/fastgate/gateway/config"
)

// serveAdmin runs ServeAdmin with lim on loopback until the test ends and
// returns its address.
func serveAdmin(t *testing.T, lim adminLimits) string {
	t.Helper()
	cfg, err := config.Parse([]byte(adminRoutes), "admin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gw, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	gw.adminLimits = lim
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- gw.ServeAdmin(ln) }()
	t.Cleanup(func() {
		_ = gw.Shutdown(context.Background())
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("ServeAdmin after Shutdown: %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("ServeAdmin still serving 5s after Shutdown")
		}
	})
	return ln.Addr().String()
}

// healthz sends GET /healthz on c and returns the status (0 on error).
func healthz(c net.Conn, r *bufio.Reader) int {
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestAdminClosesIdleConnections: an idle keep-alive connection to the
// admin listener is closed after its idle timeout, so that clients cannot
// hold descriptors there.
func TestAdminClosesIdleConnections(t *testing.T) {
	lim := defaultAdminLimits
	lim.idle = 100 * time.Millisecond
	addr := serveAdmin(t, lim)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if s := healthz(c, r); s != 200 {
		t.Fatalf("GET /healthz: %d", s)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("idle admin connection: read returned %v, want EOF (closed by the server)", err)
	}
}

// TestAdminConnectionLimit: past its connection limit the admin listener
// leaves new connections in the backlog until one closes.
func TestAdminConnectionLimit(t *testing.T) {
	lim := defaultAdminLimits
	lim.maxConns = 2
	addr := serveAdmin(t, lim)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range lim.maxConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if s := healthz(c, bufio.NewReader(c)); s != 200 {
			t.Fatalf("GET /healthz: %d", s)
		}
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	r := bufio.NewReader(extra)
	_ = extra.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if s := healthz(extra, r); s != 0 {
		t.Fatalf("a connection past the limit was served (%d)", s)
	}
	held[0].Close()
	_ = extra.SetDeadline(time.Now().Add(5 * time.Second))
	// The request already sent is answered once a slot is free.
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the waiting connection was not served within 5s of a slot freeing up")
		}
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("waiting connection: %d, want 200", resp.StatusCode)
	}
}
