package gateway

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/valyala/fasthttp"
)

// wsUpstream is a real WebSocket server on loopback (coder/websocket over
// net/http), calling handle for each connection it accepts. Requests
// that do not upgrade get 200 "plain".
type wsUpstream struct {
	url     string
	mu      sync.Mutex
	conns   int
	statusC chan websocket.StatusCode // how each connection's reading ended
}

func startWSUpstream(t testing.TB, handle func(ctx context.Context, c *websocket.Conn) error) *wsUpstream {
	t.Helper()
	u := &wsUpstream{statusC: make(chan websocket.StatusCode, 1024)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			fmt.Fprintf(w, "plain upgrade=%q connection=%q", r.Header.Get("Upgrade"), r.Header.Get("Connection"))
			return
		}
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		c.SetReadLimit(1 << 20)
		wg.Add(1)
		defer wg.Done()
		u.mu.Lock()
		u.conns++
		u.mu.Unlock()
		err = handle(ctx, c)
		u.statusC <- websocket.CloseStatus(err)
		_ = c.CloseNow()
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
		wg.Wait()
	})
	u.url = "http://" + ln.Addr().String()
	return u
}

// echo sends every message back as it came, until the connection ends.
func echo(ctx context.Context, c *websocket.Conn) error {
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if typ == websocket.MessageText && string(msg) == "close-4002" {
			return c.Close(4002, "upstream says bye")
		}
		if err := c.Write(ctx, typ, msg); err != nil {
			return err
		}
	}
}

const wsRoute1 = `
routes:
  - name: ws
    match: { path_prefix: /ws }
    upstream: { targets: ["{UP1}"] }
`

func dialWS(t testing.TB, gw *testGateway, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+gw.addr+"/ws", &websocket.DialOptions{HTTPHeader: hdr})
	if c != nil {
		c.SetReadLimit(1 << 20)
		t.Cleanup(func() { _ = c.CloseNow() })
	}
	return c, resp, err
}

func mustDialWS(t testing.TB, gw *testGateway) *websocket.Conn {
	t.Helper()
	c, _, err := dialWS(t, gw, nil)
	if err != nil {
		t.Fatalf("dial through the gateway: %v", err)
	}
	return c
}

// roundTrip writes msg and reads the echo.
func roundTrip(t testing.TB, c *websocket.Conn, typ websocket.MessageType, msg []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, typ, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	gt, got, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if gt != typ || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %v %q, want %v %q", gt, trim(got), typ, trim(msg))
	}
}

func trim(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// closeStatus reads from c until it fails and returns the close status
// the read ended with.
func closeStatus(t testing.TB, c *websocket.Conn, within time.Duration) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("the tunnel was not closed within %v", within)
			}
			return websocket.CloseStatus(err)
		}
	}
}

func TestTunnelEchoTextBinaryPing(t *testing.T) {
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsRoute1, up.url)
	c := mustDialWS(t, gw)
	roundTrip(t, c, websocket.MessageText, []byte("hello through the gateway"))
	bin := make([]byte, 70000) // a 64-bit length header
	for i := range bin {
		bin[i] = byte(i)
	}
	roundTrip(t, c, websocket.MessageBinary, bin)
	roundTrip(t, c, websocket.MessageBinary, []byte{0, 1, 2})

	// A ping needs a reader for its pong.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	readDone := make(chan error, 1)
	go func() { _, _, err := c.Read(ctx); readDone <- err }()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping through the tunnel: %v", err)
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}
	<-readDone
	if s := <-up.statusC; s != websocket.StatusNormalClosure {
		t.Errorf("upstream saw close status %v, want %v", s, websocket.StatusNormalClosure)
	}
	waitFor(t, 5*time.Second, func() bool { return gw.deps.tunnels.count() == 0 })
	if v := gw.metric(t, `gateway_websocket_tunnels_closed_total{reason="client",route="ws"}`); v != 1 {
		t.Errorf("closed by client: %v, want 1", v)
	}
	if v := gw.metric(t, `gateway_websocket_tunnels_open{route="ws"}`); v != 0 {
		t.Errorf("open tunnels after close: %v, want 0", v)
	}
	if v := gw.metric(t, `gateway_websocket_bytes_total{direction="to_client",route="ws"}`); v < 70000 {
		t.Errorf("bytes to client: %v, want > 70000", v)
	}
	if v := gw.metric(t, `gateway_requests_total{code="101",method="GET",route="ws"}`); v != 1 {
		t.Errorf("requests with 101: %v, want 1", v)
	}
}

func TestTunnelCloseCodesPassThrough(t *testing.T) {
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsRoute1, up.url)

	// The client closes with its own code: the upstream reads it.
	c := mustDialWS(t, gw)
	roundTrip(t, c, websocket.MessageText, []byte("x"))
	_ = c.Close(4001, "client says bye")
	if s := <-up.statusC; s != 4001 {
		t.Errorf("upstream saw %v, want 4001", s)
	}

	// The upstream closes with its own code: the client reads it.
	c = mustDialWS(t, gw)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte("close-4002")); err != nil {
		t.Fatal(err)
	}
	if s := closeStatus(t, c, 5*time.Second); s != 4002 {
		t.Errorf("client saw %v, want 4002", s)
	}
	waitFor(t, 5*time.Second, func() bool { return gw.deps.tunnels.count() == 0 })
	if v := gw.metric(t, `gateway_websocket_tunnels_closed_total{reason="upstream",route="ws"}`); v != 1 {
		t.Errorf("closed by upstream: %v, want 1", v)
	}
}

func TestTunnelsConcurrent(t *testing.T) {
	const n = 200
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsRoute1, up.url)
	conns := make([]*websocket.Conn, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws://"+gw.addr+"/ws", nil)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
			msg := []byte(fmt.Sprintf("tunnel %d", i))
			if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
				errs <- err
				return
			}
			if _, got, err := c.Read(ctx); err != nil || !bytes.Equal(got, msg) {
				errs <- fmt.Errorf("tunnel %d: %q %v", i, got, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if v := gw.metric(t, `gateway_websocket_tunnels_open{route="ws"}`); v != n {
		t.Errorf("open tunnels: %v, want %d", v, n)
	}
	for _, c := range conns {
		if c != nil {
			_ = c.Close(websocket.StatusNormalClosure, "")
		}
	}
	waitFor(t, 10*time.Second, func() bool { return gw.deps.tunnels.count() == 0 })
}

func TestTunnelMaxTunnels(t *testing.T) {
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsRoute1+"    websocket: { max_tunnels: 2 }\n", up.url)
	mustDialWS(t, gw)
	mustDialWS(t, gw)
	_, resp, err := dialWS(t, gw, nil)
	if err == nil {
		t.Fatal("a third tunnel opened past max_tunnels: 2")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third upgrade: %v, want 503", resp)
	}
	// A plain request of the route is not counted.
	if s := gw.do(t, "GET", "/ws", nil, "").StatusCode(); s != 200 {
		t.Errorf("plain request at max_tunnels: %d, want 200", s)
	}
	resp = nil
	r := rawAnswer(t, gw, upgradeRequest("/ws", ""))
	if body := string(r.Body()); r.StatusCode() != 503 || !strings.Contains(body, `"error":"too many websocket tunnels`) || !strings.Contains(body, `"route":"ws"`) {
		t.Errorf("503 answer: %d %q", r.StatusCode(), body)
	}
}

func TestTunnelIdleTimeout(t *testing.T) {
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsRoute1+"    websocket: { idle_timeout: 300ms }\n", up.url)
	c := mustDialWS(t, gw)
	roundTrip(t, c, websocket.MessageText, []byte("then nothing"))
	if s := closeStatus(t, c, 5*time.Second); s != websocket.StatusGoingAway {
		t.Errorf("idle tunnel closed with %v, want 1001", s)
	}
	waitFor(t, 5*time.Second, func() bool { return gw.deps.tunnels.count() == 0 })
	if v := gw.metric(t, `gateway_websocket_tunnels_closed_total{reason="idle",route="ws"}`); v != 1 {
		t.Errorf("closed idle: %v, want 1", v)
	}
}

func TestTunnelMaxLifetime(t *testing.T) {
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsRoute1+"    websocket: { max_lifetime: 500ms }\n", up.url)
	opened := time.Now() // before the gateway's count starts
	c := mustDialWS(t, gw)
	// Busy all along: only the lifetime ends it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var status websocket.StatusCode
	for {
		if err := c.Write(ctx, websocket.MessageText, []byte("busy")); err != nil {
			status = closeStatus(t, c, 5*time.Second)
			break
		}
		if _, _, err := c.Read(ctx); err != nil {
			status = websocket.CloseStatus(err)
			break
		}
	}
	if status != websocket.StatusGoingAway {
		t.Errorf("closed with %v, want 1001", status)
	}
	if d := time.Since(opened); d < 500*time.Millisecond {
		t.Errorf("closed after %v, before its max_lifetime", d)
	}
	waitFor(t, 5*time.Second, func() bool { return gw.deps.tunnels.count() == 0 })
	if v := gw.metric(t, `gateway_websocket_tunnels_closed_total{reason="lifetime",route="ws"}`); v != 1 {
		t.Errorf("closed by lifetime: %v, want 1", v)
	}
}

func TestTunnelOrigins(t *testing.T) {
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsRoute1+`    websocket: { allowed_origins: ["https://*.example.com", "https://exact.test"] }
`, up.url)
	for _, tt := range []struct {
		desc, origin string
		want         int
	}{
		{desc: "subdomain", origin: "https://app.example.com", want: 101},
		{desc: "exact", origin: "https://EXACT.test", want: 101},
		{desc: "no origin (not a browser)", origin: "", want: 101},
		{desc: "other site", origin: "https://evil.test", want: 403},
		{desc: "bare domain", origin: "https://example.com", want: 403},
		{desc: "suffix trick", origin: "https://app.example.com.evil.test", want: 403},
		{desc: "other scheme", origin: "http://app.example.com", want: 403},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			hdr := http.Header{}
			if tt.origin != "" {
				hdr.Set("Origin", tt.origin)
			}
			c, resp, err := dialWS(t, gw, hdr)
			got := 0
			if resp != nil {
				got = resp.StatusCode
			}
			if got != tt.want {
				t.Fatalf("status %d (%v), want %d", got, err, tt.want)
			}
			if c != nil {
				_ = c.Close(websocket.StatusNormalClosure, "")
			}
		})
	}
}

func TestTunnelDisabledPassesPlainRequest(t *testing.T) {
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsRoute1+"    websocket: { enabled: false }\n", up.url)
	_, resp, err := dialWS(t, gw, nil)
	if err == nil || resp == nil || resp.StatusCode != 200 {
		t.Fatalf("upgrade on a route with websocket off: %v %v, want the upstream's plain 200", resp, err)
	}
}

// upgradeRequest is a valid WebSocket upgrade of path, with extra header
// lines.
func upgradeRequest(path, extra string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// rawAnswer writes request verbatim on a new connection and reads one
// answer.
func rawAnswer(t testing.TB, gw *testGateway, request string) *fasthttp.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", gw.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	resp := &fasthttp.Response{}
	if err := resp.Read(bufio.NewReader(c)); err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return resp
}

// TestTunnelRouteSteps: the route's steps apply to the upgrade request
// (here its rate limit), and the target is picked as for any request: a
// dead target is skipped after its connect error.
func TestTunnelRouteSteps(t *testing.T) {
	up := startWSUpstream(t, echo)
	gw := startGateway(t, `
routes:
  - name: ws
    match: { path_prefix: /ws }
    upstream: { targets: ["{UP1}", "{UP2}"], retries: 1 }
    rate_limit: { rate: "4/h", burst: 4 }
`, deadAddr(t), up.url)
	for i := range 4 {
		c, _, err := dialWS(t, gw, nil)
		if err != nil {
			t.Fatalf("upgrade %d with a dead target beside a live one: %v", i, err)
		}
		roundTrip(t, c, websocket.MessageText, []byte("through the live target"))
	}
	_, resp, err := dialWS(t, gw, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fifth upgrade over the rate limit: %v %v, want 429", resp, err)
	}
	if v := gw.metric(t, `gateway_upstream_errors_total{kind="connect",route="ws"}`); v < 1 {
		t.Errorf("connect errors counted: %v, want at least 1", v)
	}
}
