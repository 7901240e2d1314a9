package gateway

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/certs/certstest"
)

// waitParked waits until gw holds n connections, all parked idle.
func waitParked(t *testing.T, gw *Gateway, n int) {
	t.Helper()
	waitFor(t, 5*time.Second, func() bool { open, parked := gw.clientConns(); return open == n && parked == n })
}

// rawConn sends requests as raw bytes on one client connection and reads
// the answers, each expected to be 200 with a given body.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func newRawConn(t *testing.T, c net.Conn) *rawConn {
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) expect(want string) {
	r.t.Helper()
	if code, body := readAnswer(r.t, r.br); code != 200 || body != want {
		r.t.Fatalf("answer %d %q, want 200 %q", code, body, want)
	}
}

// readAnswer reads one answer from br and returns its status and body.
func readAnswer(t *testing.T, br *bufio.Reader) (int, string) {
	t.Helper()
	var resp fasthttp.Response
	if err := resp.Read(br); err != nil {
		t.Fatalf("reading an answer: %v", err)
	}
	return resp.StatusCode(), string(resp.Body())
}

// TestIdleConnectionResumes: a parked connection's next request is
// served whole, however it arrives: one byte first and the rest after
// the gateway has taken the byte, pipelined behind another, or with a
// body; over plain TCP and TLS.
func TestIdleConnectionResumes(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString(string(ctx.Path()) + ":" + string(ctx.Request.Body()))
	})
	dir := t.TempDir()
	ca := certstest.NewCA(t, "test CA")
	ca.Issue(t, certstest.LeafOptions{Names: []string{"a.example.com"}}).Write(t, dir, "a")
	g := startTLSGateway(t, dir, ca, tlsYAML("    - { cert_file: a.crt, key_file: a.key }\n", "",
		"  - { name: r, match: { path_prefix: / }, upstream: { targets: [\"{UP1}\"] } }\n"), Options{}, up)
	dial := map[string]func() net.Conn{
		"plain": func() net.Conn {
			c, err := net.Dial("tcp", g.addr)
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		"tls": func() net.Conn {
			c, err := tls.Dial("tcp", g.tlsAddr, &tls.Config{RootCAs: ca.Pool(), ServerName: "a.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
	}
	for _, name := range []string{"plain", "tls"} {
		t.Run(name, func(t *testing.T) {
			c := dial[name]()
			defer c.Close()
			rc := newRawConn(t, c)
			send, expect := rc.send, rc.expect
			send("GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
			expect("/first:")
			waitParked(t, g.Gateway, 1)

			// One byte, taken by the parked connection, then the rest.
			send("G")
			waitFor(t, 5*time.Second, func() bool { _, parked := g.clientConns(); return parked == 0 })
			send("ET /split HTTP/1.1\r\nHost: a\r\n\r\n")
			expect("/split:")
			waitParked(t, g.Gateway, 1)

			// Two requests in one write, the second with a body.
			send("GET /a HTTP/1.1\r\nHost: a\r\n\r\nPOST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
			expect("/a:")
			expect("/b:hello")
			waitParked(t, g.Gateway, 1)

			// A chunked body arriving in pieces.
			send("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
			send("2\r\nde\r\n0\r\n\r\n")
			expect("/c:abcde")
			waitParked(t, g.Gateway, 1)
		})
	}
}

// TestIdleConnectionLimits: a parked connection still counts for
// server.max_conns_per_ip and server.concurrency, as an idle one did
// inside fasthttp, and is served when it sends its next request.
func TestIdleConnectionLimits(t *testing.T) {
	tests := []struct {
		desc   string
		server string
		want   string
	}{
		{desc: "max_conns_per_ip", server: "max_conns_per_ip: 2", want: "429"},
		{desc: "concurrency", server: "concurrency: 2", want: "503"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
			gw := startGateway(t, `
server: { `+tt.server+` }
routes:
  - { name: any, match: { path_prefix: / }, upstream: { targets: ["{UP1}"] } }
`, up)
			var held []net.Conn
			for i := 0; i < 2; i++ {
				c, err := net.Dial("tcp", gw.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				keepAliveRequest(t, c)
				held = append(held, c)
			}
			waitParked(t, gw.Gateway, 2)
			if status, _ := gw.raw(t, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"); !strings.HasPrefix(status, "HTTP/1.1 "+tt.want) {
				t.Errorf("third connection: status line %q, want %s", status, tt.want)
			}
			keepAliveRequest(t, held[0])
			held[1].Close()
			waitFor(t, 5*time.Second, func() bool { open, _ := gw.clientConns(); return open == 1 })
			if status, _ := gw.raw(t, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"); !strings.HasPrefix(status, "HTTP/1.1 200") {
				t.Errorf("a connection within the limit again: status line %q, want 200", status)
			}
		})
	}
}

// TestIdleConnectionTimeoutAndShutdown: a parked connection is closed
// after server.idle_timeout, and by Shutdown. The idle timeout leaves the
// connection parked long enough (from restAfter to 2s) for a loaded
// machine's poll to see it parked.
func TestIdleConnectionTimeoutAndShutdown(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	gw := startGateway(t, `
server: { idle_timeout: 2s }
routes:
  - { name: any, match: { path_prefix: / }, upstream: { targets: ["{UP1}"] } }
`, up)
	c, err := net.Dial("tcp", gw.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keepAliveRequest(t, c)
	keepAliveRequest(t, c)
	waitParked(t, gw.Gateway, 1)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("parked connection after idle_timeout: read %d, %v; want end of file", n, err)
	}
	waitParked(t, gw.Gateway, 0)

	c2, err := net.Dial("tcp", gw.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	keepAliveRequest(t, c2)
	waitParked(t, gw.Gateway, 1)
	gw.lnMu.Lock()
	idle := gw.idleLns
	gw.lnMu.Unlock()
	for _, il := range idle {
		_ = il.Close()
	}
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c2.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("parked connection after its listener closed: read %d, %v; want it closed", n, err)
	}
}
