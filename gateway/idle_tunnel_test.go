package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// rawWSUpstream accepts WebSocket upgrades with a 101 and then holds the
// connections without a goroutine or buffer each, so that what idle
// tunnels cost is the gateway's alone (and the clients' sockets).
type rawWSUpstream struct {
	url   string
	mu    sync.Mutex
	conns []net.Conn
}

func startRawWSUpstream(t *testing.T) *rawWSUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawWSUpstream{url: "http://" + ln.Addr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			req, err := http.ReadRequest(bufio.NewReaderSize(c, 1024))
			if err != nil || req.Header.Get("Upgrade") == "" {
				c.Close()
				continue
			}
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
			_ = c.SetDeadline(time.Time{})
			u.mu.Lock()
			u.conns = append(u.conns, c)
			u.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		u.mu.Lock()
		for _, c := range u.conns {
			c.Close()
		}
		u.mu.Unlock()
	})
	return u
}

// runningTunnels is the number of gw's tunnels piping.
func runningTunnels(gw *Gateway) int {
	return len(gw.deps.tunnels.matching(func(t *tunnel) bool {
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.state == tunnelRunning
	}))
}

// TestIdleTunnelMemory holds many open WebSocket tunnels with nothing
// moving and checks what each costs the gateway: heap and goroutine
// stacks, the clients' and the upstream's sockets included (neither
// runs a goroutine per connection).
func TestIdleTunnelMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens many connections")
	}
	const tunnels = 1000
	budget := int64(16 << 10)
	if underRace {
		budget = 24 << 10
	}
	up := startRawWSUpstream(t)
	gw := startGateway(t, wsRoute1, up.url)
	open := func() io.Closer {
		c, err := net.Dial("tcp", gw.addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, upgradeRequest("/ws", "")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade answered %d", resp.StatusCode)
		}
		_ = c.SetDeadline(time.Time{})
		return c
	}
	open().Close()
	waitFor(t, 5*time.Second, func() bool { return gw.deps.tunnels.count() == 0 })
	heap0, stack0, _ := measureMemory()
	held := make([]io.Closer, 0, tunnels)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < tunnels; i++ {
		held = append(held, open())
	}
	waitFor(t, 10*time.Second, func() bool { return runningTunnels(gw.Gateway) == tunnels })
	heap1, stack1, _ := measureMemory()
	writeIdleProfile(t)
	m := idleMemory{heap: (int64(heap1) - int64(heap0)) / tunnels, stack: (int64(stack1) - int64(stack0)) / tunnels}
	t.Logf("%d idle tunnels: %d bytes each (heap %d, stacks %d)", tunnels, m.total(), m.heap, m.stack)
	if m.total() > budget {
		t.Errorf("each idle tunnel costs %d bytes, want at most %d", m.total(), budget)
	}
}

// TestTunnelClientBytesBehindUpgrade: a WebSocket frame the client sends
// in the same write as its upgrade request, which fasthttp reads into its
// buffer with the request, reaches the upstream once the tunnel reads the
// connection itself.
func TestTunnelClientBytesBehindUpgrade(t *testing.T) {
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsRoute1, up.url)
	c, err := net.Dial("tcp", gw.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	// A masked text frame "hi" (RFC 6455 5.2).
	mask := []byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x82, mask[0], mask[1], mask[2], mask[3], 'h' ^ mask[0], 'i' ^ mask[1]}
	if _, err := io.WriteString(c, upgradeRequest("/ws", "")+string(frame)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %d", resp.StatusCode)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	if want := []byte{0x81, 0x02, 'h', 'i'}; string(got) != string(want) {
		t.Fatalf("echo % x, want % x", got, want)
	}
}
