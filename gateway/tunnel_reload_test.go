package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fastgate/gateway/config"
)

// applyYAML applies yaml ({UP1} replaced by up) to the gateway.
func applyYAML(t testing.TB, gw *testGateway, yaml, up string) ReloadResult {
	t.Helper()
	cfg, err := config.Parse([]byte(strings.ReplaceAll(yaml, "{UP1}", up)), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	res, err := gw.Apply(cfg)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res
}

const wsAndHello = wsRoute1 + `    websocket: { drain_delay: 600ms }
  - name: hello
    match: { path: /hello }
    respond: { body: "hi" }
`

// TestTunnelSurvivesReloadsOfUnchangedRoute: 50 reloads, each changing
// another route, leave the tunnel of an unchanged route alone, with
// messages flowing between them.
func TestTunnelSurvivesReloadsOfUnchangedRoute(t *testing.T) {
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsAndHello, up.url)
	c := mustDialWS(t, gw)
	for i := range 50 {
		yaml := wsAndHello
		if i%2 == 0 {
			yaml += fmt.Sprintf("  - { name: extra%d, match: { path: /extra }, respond: { body: x } }\n", i)
		}
		res := applyYAML(t, gw, yaml, up.url)
		if !res.Applied || res.Changed["ws"] != nil {
			t.Fatalf("reload %d: %+v", i, res)
		}
		roundTrip(t, c, websocket.MessageText, []byte(fmt.Sprintf("after reload %d", i)))
	}
	if n := gw.deps.tunnels.count(); n != 1 {
		t.Errorf("%d tunnels registered, want 1", n)
	}
	if v := gw.metric(t, `gateway_websocket_tunnels_closed_total{reason="reload",route="ws"}`); v != 0 {
		t.Errorf("tunnels closed by reload: %v, want 0", v)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if up.conns != 1 {
		t.Errorf("the upstream saw %d connections, want 1", up.conns)
	}
}

// TestTunnelRemovedRouteDrains: the tunnels of a removed route are closed
// with 1001 within its drain delay, spread over it.
func TestTunnelRemovedRouteDrains(t *testing.T) {
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsAndHello, up.url)
	const n = 3
	var conns []*websocket.Conn
	for range n {
		c := mustDialWS(t, gw)
		roundTrip(t, c, websocket.MessageText, []byte("open"))
		conns = append(conns, c)
	}
	reloaded := time.Now()
	applyYAML(t, gw, `
routes:
  - { name: hello, match: { path: /hello }, respond: { body: "hi" } }
`, up.url)
	var last time.Duration
	for i, c := range conns {
		if s := closeStatus(t, c, 5*time.Second); s != websocket.StatusGoingAway {
			t.Errorf("tunnel %d closed with %v, want 1001", i, s)
		}
		last = max(last, time.Since(reloaded))
	}
	// Closes are spread: the last is due at 2/3 of the delay (400ms), and
	// each is written within the delay, plus the writes themselves.
	if last < 400*time.Millisecond {
		t.Errorf("the last tunnel closed %v after the reload, want the closes spread over 600ms", last)
	}
	if last > 600*time.Millisecond+time.Second {
		t.Errorf("the last tunnel closed %v after the reload, past its drain delay of 600ms", last)
	}
	waitFor(t, 5*time.Second, func() bool { return gw.deps.tunnels.count() == 0 })
	if v := gw.metric(t, `gateway_websocket_tunnels_closed_total{reason="reload",route="ws"}`); v != n {
		t.Errorf("tunnels closed by reload: %v, want %d", v, n)
	}
}

// TestTunnelChangedRouteDrains: a change to the route's settings retires
// it, and its tunnels with it.
func TestTunnelChangedRouteDrains(t *testing.T) {
	up := startWSUpstream(t, echo)
	gw := startGateway(t, wsAndHello, up.url)
	c := mustDialWS(t, gw)
	roundTrip(t, c, websocket.MessageText, []byte("open"))
	res := applyYAML(t, gw, strings.Replace(wsAndHello, "drain_delay: 600ms", "drain_delay: 0s", 1), up.url)
	if res.Changed["ws"] == nil {
		t.Fatalf("the route did not change: %+v", res)
	}
	if s := closeStatus(t, c, 5*time.Second); s != websocket.StatusGoingAway {
		t.Errorf("closed with %v, want 1001", s)
	}
	// The route as it is now takes new tunnels.
	roundTrip(t, mustDialWS(t, gw), websocket.MessageText, []byte("new"))
}

// TestTunnelTargetLeavesDrains: a tunnel whose target leaves the
// registry's list is closed within the drain delay; the route, unchanged,
// keeps serving through the instance left.
func TestTunnelTargetLeavesDrains(t *testing.T) {
	reg := newFakeRegistry()
	a, b := startWSUpstream(t, echo), startWSUpstream(t, echo)
	reg.set("chat", a.url)
	gw := startDiscoveryGateway(t, reg, `
routes:
  - name: ws
    match: { path_prefix: /ws }
    upstream: { service: chat, discovery: etcd }
    websocket: { drain_delay: 200ms }
`)
	c := mustDialWS(t, gw)
	roundTrip(t, c, websocket.MessageText, []byte("on a"))
	reg.set("chat", a.url, b.url)
	roundTrip(t, c, websocket.MessageText, []byte("b joined"))
	reg.set("chat", b.url)
	if s := closeStatus(t, c, 5*time.Second); s != websocket.StatusGoingAway {
		t.Errorf("closed with %v, want 1001", s)
	}
	roundTrip(t, mustDialWS(t, gw), websocket.MessageText, []byte("on b"))
}

// TestTunnelShutdown: Shutdown sends every tunnel 1001 and returns once
// they are over.
func TestTunnelShutdown(t *testing.T) {
	up := startWSUpstream(t, echo)
	cfg, err := config.Parse([]byte(strings.ReplaceAll(wsRoute1, "{UP1}", up.url)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gw, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	gw.server.MaxIdleWorkerDuration = 20 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = gw.Serve(ln) }()
	tg := &testGateway{Gateway: gw, addr: ln.Addr().String()}
	var conns []*websocket.Conn
	for range 3 {
		c := mustDialWS(t, tg)
		roundTrip(t, c, websocket.MessageText, []byte("open"))
		conns = append(conns, c)
	}
	statuses := make(chan websocket.StatusCode, len(conns))
	for _, c := range conns {
		go func() {
			_, _, err := c.Read(context.Background())
			statuses <- websocket.CloseStatus(err)
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	<-served
	// A second Shutdown finds nothing left to wait for.
	again, cancelAgain := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelAgain()
	if err := gw.Shutdown(again); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
	if n := gw.deps.tunnels.count(); n != 0 {
		t.Errorf("%d tunnels left after Shutdown returned", n)
	}
	for range conns {
		if s := <-statuses; s != websocket.StatusGoingAway {
			t.Errorf("a client got %v, want 1001", s)
		}
	}
	if v := testMetric(t, gw, "gateway_websocket_tunnels_closed_total", "shutdown"); v != 3 {
		t.Errorf("closed by shutdown: %v, want 3", v)
	}
}

// testMetric returns the value of the series of family name whose
// reason label is reason, read from the gateway's registry; -1 if none.
func testMetric(t testing.TB, gw *Gateway, name, reason string) float64 {
	t.Helper()
	mfs, err := gw.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

// TestTunnelOpenedDuringRemovalDrains: an upgrade under way while a
// reload removes its route still gets its tunnel closed with 1001, not a
// tunnel on a route that no longer exists.
func TestTunnelOpenedDuringRemovalDrains(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	up := startWSUpstream(t, echo)
	// The handshake reaches the upstream through a gate the test opens.
	gate := startGate(t, up.url, arrived, release)
	gw := startGateway(t, wsAndHello, gate)
	dialed := make(chan *websocket.Conn, 1)
	go func() {
		c, _, err := dialWS(t, gw, nil)
		if err != nil {
			t.Errorf("dial: %v", err)
		}
		dialed <- c
	}()
	<-arrived
	applyYAML(t, gw, `
routes:
  - { name: hello, match: { path: /hello }, respond: { body: "hi" } }
`, up.url)
	close(release)
	c := <-dialed
	if c == nil {
		return
	}
	if s := closeStatus(t, c, 5*time.Second); s != websocket.StatusGoingAway {
		t.Errorf("closed with %v, want 1001", s)
	}
	waitFor(t, 5*time.Second, func() bool { return gw.deps.tunnels.count() == 0 })
}

// startGate forwards TCP connections to the upstream at target, each
// only after it signalled arrived (its first bytes came) and release is
// closed.
func startGate(t *testing.T, target string, arrived, release chan struct{}) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var once sync.Once
	done := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				once.Do(func() { close(arrived) })
				select {
				case <-release:
				case <-done:
					return
				}
				u, err := net.Dial("tcp", strings.TrimPrefix(target, "http://"))
				if err != nil {
					return
				}
				defer u.Close()
				if _, err := u.Write(buf[:n]); err != nil {
					return
				}
				go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}
