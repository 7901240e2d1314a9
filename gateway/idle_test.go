package gateway

import (
	"bufio"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestIdleConnectionMemory holds many idle keep-alive clients and checks
// what each costs: an edge proxy keeps tens of thousands of them. The
// figure counts heap and goroutine stacks, client side included (it lives
// in this process too), so it overstates the gateway's share a little.
//
// The budget is 24 KiB, not the 8 KiB we aim at: with request body
// streaming on, fasthttp keeps each connection's read buffer
// (server.max_header_bytes, 8 KiB) between requests, and the connection's
// goroutine keeps an 8 KiB stack. Without streaming it measures about
// 10 KiB. docs/performance.md states the figure.
func TestIdleConnectionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens many connections")
	}
	const conns = 2000
	const budget = 24 << 10
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	gw := startGateway(t, `
routes:
  - { name: r, match: { path_prefix: / }, upstream: { targets: ["{UP1}"] } }
`, up)
	measure := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse + ms.StackInuse
	}
	// One warm-up connection so that pools and metric children exist.
	warm := openIdle(t, gw.addr)
	warm.Close()
	waitFor(t, 5*time.Second, func() bool { return gw.server.GetOpenConnectionsCount() == 0 })
	before := measure()
	held := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < conns; i++ {
		held = append(held, openIdle(t, gw.addr))
	}
	waitFor(t, 5*time.Second, func() bool { return gw.server.GetOpenConnectionsCount() == conns })
	after := measure()
	per := (int64(after) - int64(before)) / conns
	t.Logf("%d idle keep-alive connections: %d bytes each", conns, per)
	if per > budget {
		t.Errorf("each idle connection costs %d bytes, want at most %d", per, budget)
	}
}

// openIdle sends one request on a new connection, reads the answer, and
// returns the connection still open.
func openIdle(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	var resp fasthttp.Response
	if err := resp.Read(bufio.NewReaderSize(c, 512)); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 200 {
		t.Fatalf("status %d", resp.StatusCode())
	}
	return c
}
