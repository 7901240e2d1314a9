package gateway

import (
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestYieldConn: plain TCP client connections come out of the listener
// wrapped, keep what the tunnels use of them (CloseWrite), and the first
// read after a write lets other goroutines run before it.
func TestYieldConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rl := newRetryListener(ln, nil, slog.New(slog.DiscardHandler))
	defer rl.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := rl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	yc, ok := c.(*yieldConn)
	if !ok {
		t.Fatalf("accepted a %T, want a *yieldConn", c)
	}
	if _, ok := c.(interface{ CloseWrite() error }); !ok {
		t.Fatal("the wrapped connection lost CloseWrite")
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))

	// The request is there before the answer is written, so the read
	// after the write would not wait for it: only a yield runs the
	// goroutine started just before it. With one processor a new goroutine
	// runs next only when the current one gives the processor up.
	if _, err := io.WriteString(client, "ping"); err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if _, err := io.WriteString(c, "pong"); err != nil {
		t.Fatal(err)
	}
	if !yc.wrote.Load() {
		t.Fatal("a write did not mark the connection")
	}
	var ran atomic.Bool
	done := make(chan struct{})
	go func() { ran.Store(true); close(done) }()
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if !ran.Load() {
		t.Error("the read after a write did not yield first")
	}
	if yc.wrote.Load() {
		t.Error("the read did not clear the mark")
	}
	<-done

	// Half-closing still reaches the peer.
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "pong" {
		t.Fatalf("the client read %q, %v; want \"pong\" then EOF", got, err)
	}
}

// TestYieldingOnlyTCP: connections that are not plain TCP (TLS, a test's
// pipe) are left as they are.
func TestYieldingOnlyTCP(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := yielding(a); got != a {
		t.Fatalf("yielding wrapped a %T", a)
	}
}
