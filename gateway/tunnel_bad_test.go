package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/valyala/fasthttp"
)

const wsAndHelloRoutes = wsRoute1 + `    websocket: { idle_timeout: 300ms, buffer_size: 1KiB }
  - name: hello
    match: { path: /hello }
    respond: { body: "hi" }
`

// stillServes checks that the gateway answers a plain request.
func stillServes(t *testing.T, gw *testGateway) {
	t.Helper()
	if s := gw.do(t, "GET", "/hello", nil, "").StatusCode(); s != 200 {
		t.Errorf("the gateway answers %d to a plain request afterwards, want 200", s)
	}
}

func TestTunnelBadUpgrades(t *testing.T) {
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsAndHelloRoutes, up.url)
	const key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, tt := range []struct {
		desc, give string
		want       int
		wantBody   string
	}{
		{desc: "upgrade with a body", give: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "Content-Length: 5\r\n\r\nhello", want: 400},
		{desc: "upgrade with a chunked body", give: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", want: 400},
		{desc: "POST upgrade", give: "POST /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "Content-Length: 0\r\n\r\n", want: 400},
		{desc: "no key", give: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n", want: 400},
		{desc: "short key", give: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\n\r\n", want: 400},
		{desc: "key not base64", give: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n\r\n", want: 400},
		// Not an upgrade the gateway takes: the request goes as a plain
		// one, the upgrade headers dropped as hop-by-hop.
		{desc: "Connection: upgrade without Upgrade", give: "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n" + key + "\r\n", want: 200, wantBody: `plain upgrade="" connection=""`},
		{desc: "Upgrade without Connection: upgrade", give: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" + key + "\r\n", want: 200, wantBody: `plain upgrade="" connection=""`},
		{desc: "HTTP/1.0 upgrade", give: "GET /ws HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "\r\n", want: 200, wantBody: `plain upgrade="" connection=""`},
		{desc: "upgrade to another protocol", give: "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n", want: 200, wantBody: `plain upgrade="" connection=""`},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			r := rawAnswer(t, gw, tt.give)
			if r.StatusCode() != tt.want || !strings.Contains(string(r.Body()), tt.wantBody) {
				t.Errorf("answer %d %q, want %d %q", r.StatusCode(), r.Body(), tt.want, tt.wantBody)
			}
		})
	}
	if n := gw.deps.tunnels.count(); n != 0 {
		t.Errorf("%d tunnels open after refused upgrades", n)
	}
	stillServes(t, gw)
}

// TestTunnelClientNeverReads: an upstream that keeps sending to a client
// that never reads fills the tunnel's bounded buffers; the tunnel then
// closes (nothing moves for the idle timeout) instead of holding memory.
func TestTunnelClientNeverReads(t *testing.T) {
	flooding := make(chan error, 1)
	up := startWSUpstream(t, func(ctx context.Context, c *websocket.Conn) error {
		msg := make([]byte, 16<<10)
		for {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.Write(wctx, websocket.MessageBinary, msg)
			cancel()
			if err != nil {
				flooding <- err
				return err
			}
		}
	})
	gw := startGateway(t, wsAndHelloRoutes, up.url)
	c, err := net.Dial("tcp", gw.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, upgradeRequest("/ws", "")); err != nil {
		t.Fatal(err)
	}
	// Read the 101 head only, then never read again.
	br := bufio.NewReaderSize(c, 512)
	var resp fasthttp.ResponseHeader
	if err := resp.Read(br); err != nil || resp.StatusCode() != 101 {
		t.Fatalf("upgrade: %d %v", resp.StatusCode(), err)
	}
	waitFor(t, 10*time.Second, func() bool { return gw.deps.tunnels.count() == 0 })
	select {
	case <-flooding:
	case <-time.After(10 * time.Second):
		t.Error("the upstream's writes still go on after the tunnel closed")
	}
	if v := gw.metric(t, `gateway_websocket_tunnels_closed_total{reason="idle",route="ws"}`); v != 1 {
		t.Errorf("closed idle: %v, want 1", v)
	}
	stillServes(t, gw)
}

// hangingUpstream accepts connections, reads the request head and then
// answers with answer (nothing when empty), and holds the connection
// without reading or writing until the test ends.
func hangingUpstream(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	conns := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() {
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				if answer != "" {
					_, _ = io.WriteString(c, answer)
				}
				<-done
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		ln.Close()
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	})
	return "http://" + ln.Addr().String()
}

func TestTunnelUpstreamHangs(t *testing.T) {
	t.Run("before answering", func(t *testing.T) {
		up := hangingUpstream(t, "")
		gw := startGateway(t, `
routes:
  - name: ws
    match: { path_prefix: /ws }
    upstream: { targets: ["{UP1}"], timeout: 300ms }
  - { name: hello, match: { path: /hello }, respond: { body: "hi" } }
`, up)
		r := rawAnswer(t, gw, upgradeRequest("/ws", ""))
		if r.StatusCode() != 504 {
			t.Errorf("upgrade to a silent upstream: %d %q, want 504", r.StatusCode(), r.Body())
		}
		stillServes(t, gw)
	})
	t.Run("after its 101", func(t *testing.T) {
		up := startWSUpstream(t, func(ctx context.Context, c *websocket.Conn) error {
			<-ctx.Done() // neither reads nor writes
			return ctx.Err()
		}).url
		gw := startGateway(t, wsAndHelloRoutes, up)
		c := mustDialWS(t, gw)
		if s := closeStatus(t, c, 5*time.Second); s != websocket.StatusGoingAway {
			t.Errorf("closed with %v, want 1001", s)
		}
		waitFor(t, 5*time.Second, func() bool { return gw.deps.tunnels.count() == 0 })
		stillServes(t, gw)
	})
}

func TestTunnelUpstreamAnswers(t *testing.T) {
	for _, tt := range []struct {
		desc, answer string
		want         int
		wantBody     string
	}{
		{desc: "refusal passed on", answer: "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\nX-Why: token\r\n\r\nnope", want: 403, wantBody: "nope"},
		{desc: "plain answer passed on", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", want: 200, wantBody: "ok"},
		{desc: "101 to another protocol", answer: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", want: 502},
		{desc: "garbage", answer: "SSH-2.0-OpenSSH\r\n\r\n", want: 502},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			gw := startGateway(t, wsAndHelloRoutes, hangingUpstream(t, tt.answer))
			r := rawAnswer(t, gw, upgradeRequest("/ws", ""))
			if r.StatusCode() != tt.want || !strings.Contains(string(r.Body()), tt.wantBody) {
				t.Errorf("answer %d %q, want %d %q", r.StatusCode(), r.Body(), tt.want, tt.wantBody)
			}
			if tt.want == 403 && string(r.Header.Peek("X-Why")) != "token" {
				t.Errorf("the refusal lost its headers: %s", r.Header.String())
			}
			if n := gw.deps.tunnels.count(); n != 0 {
				t.Errorf("%d tunnels open", n)
			}
			stillServes(t, gw)
		})
	}
}

// TestSwitchingProtocolsUnasked: a 101 to a request that did not ask to
// upgrade is the upstream's fault: 502, and its connection is not kept.
func TestSwitchingProtocolsUnasked(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.HijackSetNoResponse(true)
		ctx.Hijack(func(c net.Conn) {
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		})
	})
	gw := startGateway(t, wsAndHelloRoutes, up)
	if s := gw.do(t, "GET", "/ws", nil, "").StatusCode(); s != http.StatusBadGateway {
		t.Errorf("plain request answered 101 upstream: %d, want 502", s)
	}
	stillServes(t, gw)
}

// TestTunnelsAbandoned: clients that open tunnels and drop their
// connections without a close frame leave nothing behind.
func TestTunnelsAbandoned(t *testing.T) {
	const n = 300
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsAndHelloRoutes, up.url)
	var conns []net.Conn
	for i := range n {
		c, err := net.Dial("tcp", gw.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, upgradeRequest("/ws", "")); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			// Half of them wait for the 101 first.
			var resp fasthttp.ResponseHeader
			if err := resp.Read(bufio.NewReader(c)); err != nil || resp.StatusCode() != 101 {
				t.Fatalf("upgrade %d: %d %v", i, resp.StatusCode(), err)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
	// Every upgrade got its 101 (and its tunnel) before they all end.
	waitFor(t, 10*time.Second, func() bool {
		return gw.metric(t, `gateway_requests_total{code="101",method="GET",route="ws"}`) == n
	})
	waitFor(t, 10*time.Second, func() bool { return gw.deps.tunnels.count() == 0 })
	if v := gw.metric(t, `gateway_websocket_tunnels_open{route="ws"}`); v != 0 {
		t.Errorf("open tunnels: %v, want 0", v)
	}
	stillServes(t, gw)
	roundTrip(t, mustDialWS(t, gw), websocket.MessageText, []byte("still tunnels"))
}
