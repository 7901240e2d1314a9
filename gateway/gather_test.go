package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// yieldPair returns a yieldConn over the server side of a loopback TCP
// connection and the client side, with deadlines so that a lost byte fails
// the test instead of hanging it.
func yieldPair(t *testing.T) (*yieldConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	yc := &yieldConn{TCPConn: server.(*net.TCPConn)}
	t.Cleanup(func() { yc.Close(); client.Close() })
	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	_ = yc.SetDeadline(time.Now().Add(10 * time.Second))
	return yc, client
}

// readN reads exactly n bytes from c.
func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return string(buf)
}

// TestYieldConnHold: a head held back leaves with whatever the
// connection is asked to do next, in order: the body's first pieces
// (WriteBuffers), another write, a read or a close; a head too large to
// hold is written at once; nothing is held unless asked.
func TestYieldConnHold(t *testing.T) {
	head, a, b := "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", "abc", "def"
	t.Run("with the body's pieces", func(t *testing.T) {
		yc, client := yieldPair(t)
		yc.hold()
		if n, err := yc.Write([]byte(head)); n != len(head) || err != nil {
			t.Fatalf("Write(head) = %d, %v", n, err)
		}
		if yc.held == nil {
			t.Fatal("the head was not held back")
		}
		bufs := net.Buffers{[]byte(a), []byte(b)}
		if n, err := yc.WriteBuffers(&bufs); n != 6 || err != nil {
			t.Fatalf("WriteBuffers = %d, %v; want 6, nil", n, err)
		}
		if got := readN(t, client, len(head)+6); got != head+a+b {
			t.Fatalf("client read %q", got)
		}
		if yc.held != nil || yc.holding {
			t.Error("the connection still holds something after sending it")
		}
	})
	t.Run("with the next write", func(t *testing.T) {
		yc, client := yieldPair(t)
		yc.hold()
		_, _ = yc.Write([]byte(head))
		if n, err := yc.Write([]byte(a)); n != len(a) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if got := readN(t, client, len(head)+len(a)); got != head+a {
			t.Fatalf("client read %q", got)
		}
	})
	t.Run("before a read", func(t *testing.T) {
		yc, client := yieldPair(t)
		yc.hold()
		_, _ = yc.Write([]byte(head))
		go io.WriteString(client, "x")
		var one [1]byte
		if _, err := yc.Read(one[:]); err != nil {
			t.Fatal(err)
		}
		if got := readN(t, client, len(head)); got != head {
			t.Fatalf("client read %q", got)
		}
	})
	t.Run("before a close", func(t *testing.T) {
		yc, client := yieldPair(t)
		yc.hold()
		_, _ = yc.Write([]byte(head))
		yc.Close()
		got, err := io.ReadAll(client)
		if err != nil || string(got) != head {
			t.Fatalf("client read %q, %v; want the head, then the end", got, err)
		}
	})
	t.Run("too large to hold", func(t *testing.T) {
		yc, client := yieldPair(t)
		big := strings.Repeat("h", holdMax+1)
		yc.hold()
		_, _ = yc.Write([]byte(big))
		if yc.held != nil {
			t.Fatal("held more than holdMax")
		}
		if got := readN(t, client, len(big)); got != big {
			t.Fatal("client read other bytes")
		}
	})
	t.Run("not asked", func(t *testing.T) {
		yc, client := yieldPair(t)
		_, _ = yc.Write([]byte(head))
		if yc.held != nil {
			t.Fatal("held a write without hold")
		}
		if got := readN(t, client, len(head)); got != head {
			t.Fatalf("client read %q", got)
		}
	})
}

// dialProxiedTo starts a gateway whose one route forwards everything to
// up and returns a client connection to it, closed when the test ends,
// that fails its reads and writes after limit.
func dialProxiedTo(t *testing.T, up string, limit time.Duration) net.Conn {
	t.Helper()
	g := startGateway(t, `
listen: "127.0.0.1:0"
admin: "127.0.0.1:0"
routes:
  - name: big
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"] }
`, up)
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(limit))
	return c
}

// TestLargeAnswerFirstBytesAtOnce: a large answer's head leaves with the
// body bytes that have arrived, without waiting for the rest: the
// upstream sends the head and 8 KiB, then waits until the client has
// them. (Before, the head and those bytes sat in the server's write
// buffer until 32 KiB had come, so the client waited on an upstream that
// waited on the client.)
func TestLargeAnswerFirstBytesAtOnce(t *testing.T) {
	const size, first = 100 << 10, 8 << 10
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	got := make(chan struct{})
	up := oneRequestUpstream(t, func(c net.Conn) {
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
		_, _ = c.Write(body[:first])
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			return // the test fails on its own read
		}
		_, _ = c.Write(body[first:])
	})
	c := dialProxiedTo(t, up, 10*time.Second)
	if _, err := io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var resp fasthttp.Response
	resp.SkipBody = true
	if err := resp.Header.Read(br); err != nil {
		t.Fatalf("reading the head: %v", err)
	}
	if resp.StatusCode() != 200 || resp.Header.ContentLength() != size {
		t.Fatalf("head: %d, Content-Length %d", resp.StatusCode(), resp.Header.ContentLength())
	}
	rest := make([]byte, size)
	if _, err := io.ReadFull(br, rest[:first]); err != nil {
		t.Fatalf("the first %d body bytes did not come before the rest was sent: %v", first, err)
	}
	close(got)
	if _, err := io.ReadFull(br, rest[first:]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rest, body) {
		t.Fatal("the body differs from the upstream's")
	}
}

// TestLargeAnswersWhole: answers around the sizes where the way they are
// written changes (the server's write buffer, the upstream connection's
// read buffer, the read-ahead block) arrive whole and in order, sent at
// once or in pieces, one after another on a keep-alive connection, and
// for HEAD only their head.
func TestLargeAnswersWhole(t *testing.T) {
	sizes := []int{gatherMin - 1, gatherMin, 16 << 10, 31 << 10, 32 << 10, 33 << 10, 64 << 10, 64<<10 + 1, 200 << 10, 1 << 20}
	pattern := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuv"), (1<<20)/32)
	// Raw, so that a paced answer keeps its Content-Length: each piece
	// of 5,000 bytes is a write of its own, a moment after the last.
	up := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			var req fasthttp.Request
			if err := req.Read(br); err != nil {
				return
			}
			var n int
			if _, err := fmt.Sscanf(string(req.URI().Path()), "/bytes/%d", &n); err != nil {
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", n)
			switch {
			case req.Header.IsHead():
			case string(req.URI().QueryArgs().Peek("paced")) == "1":
				for off := 0; off < n; off += 5000 {
					_, _ = c.Write(pattern[off:min(off+5000, n)])
					time.Sleep(100 * time.Microsecond)
				}
			default:
				_, _ = c.Write(pattern[:n])
			}
		}
	})
	c := dialProxiedTo(t, up, 30*time.Second)
	br := bufio.NewReader(c)
	for _, paced := range []string{"0", "1"} {
		for _, n := range sizes {
			for _, method := range []string{"GET", "HEAD"} {
				fmt.Fprintf(c, "%s /bytes/%d?paced=%s HTTP/1.1\r\nHost: x\r\n\r\n", method, n, paced)
				var resp fasthttp.Response
				resp.SkipBody = method == "HEAD"
				if err := resp.Read(br); err != nil {
					t.Fatalf("%s %d bytes (paced %s): %v", method, n, paced, err)
				}
				if resp.StatusCode() != 200 || resp.Header.ContentLength() != n {
					t.Fatalf("%s %d bytes (paced %s): status %d, Content-Length %d", method, n, paced,
						resp.StatusCode(), resp.Header.ContentLength())
				}
				if method == "GET" && !bytes.Equal(resp.Body(), pattern[:n]) {
					t.Fatalf("GET %d bytes (paced %s): the body differs from the upstream's", n, paced)
				}
			}
		}
	}
}
