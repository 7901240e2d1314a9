package gateway

import (
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestYieldConn: plain TCP client connections come out of the listener
// stack Serve builds wrapped, keep what the tunnels use of them
// (CloseWrite, the socket to wait on), and the first read after a write
// lets other goroutines run before it.
func TestYieldConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	rl := newRetryListener(newIdleListener(ln, &fasthttp.Server{}, log, 0, 0), nil, log)
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
	ic, ok := c.(*idleConn)
	if !ok {
		t.Fatalf("accepted a %T, want an *idleConn", c)
	}
	yc, ok := ic.Conn.(*yieldConn)
	if !ok {
		t.Fatalf("the idle connection holds a %T, want a *yieldConn", ic.Conn)
	}
	if ic.raw == nil {
		t.Fatal("the idle connection lost its socket to wait on")
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
