package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// oneRequestUpstream answers the first connection to it with answer,
// once it has read the request's head, and closes the connection after.
// The test's answer writes raw HTTP, so it can pace what it sends.
func oneRequestUpstream(t *testing.T, answer func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for { // the request head
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		answer(c)
	}()
	return "http://" + ln.Addr().String()
}

// eventUpstream serves one server-sent event stream: its head at once,
// then event i only after the test sent on next, so that an event that
// reaches the client proves it was not held back; a negative i ends the
// stream.
// openEvents asks the gateway at addr for /events as an event stream
// (with extra, a header line, when not empty) on a connection of its own
// with a deadline, closed when the test ends, and reads the head, which
// must come before the first event.
func openEvents(t *testing.T, addr, extra string, deadline time.Duration) (*bufio.Reader, *fasthttp.ResponseHeader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(deadline))
	if extra != "" {
		extra += "\r\n"
	}
	io.WriteString(c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"+extra+"\r\n")
	br := bufio.NewReader(c)
	var head fasthttp.ResponseHeader
	if err := head.Read(br); err != nil {
		t.Fatalf("the head did not come before the first event: %v", err)
	}
	return br, &head
}

// readEvent reads the chunk of event i ("data: i"), as eventUpstream
// sends it, from br; start is when the stream began, for the message.
func readEvent(t *testing.T, br *bufio.Reader, i int, start time.Time) {
	t.Helper()
	size, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("event %d: %v after %v", i, err, time.Since(start))
	}
	n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
	if err != nil {
		t.Fatalf("event %d: chunk size %q", i, size)
	}
	data := make([]byte, n+2)
	if _, err := io.ReadFull(br, data); err != nil {
		t.Fatalf("event %d: %v", i, err)
	}
	if want := "data: " + strconv.Itoa(i) + "\n\n\r\n"; string(data) != want {
		t.Fatalf("event %d: %q, want %q", i, data, want)
	}
}

func eventUpstream(t *testing.T, next <-chan int) string {
	t.Helper()
	return oneRequestUpstream(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
		for i := range next {
			if i < 0 {
				io.WriteString(c, "0\r\n\r\n")
				return
			}
			ev := "data: " + strconv.Itoa(i) + "\n\n"
			fmt.Fprintf(c, "%x\r\n%s\r\n", len(ev), ev)
		}
	})
}

// TestEventStreamFlowsThrough: an event stream's head reaches the client
// before its first event exists, each event before the next is produced,
// and the stream outlives server.write_timeout while events keep coming:
// the timeout bounds each write, not the whole answer.
func TestEventStreamFlowsThrough(t *testing.T) {
	next := make(chan int)
	up := eventUpstream(t, next)
	gw := startGateway(t, `
server: { write_timeout: 1s }
routes:
  - { name: events, match: { path: /events }, upstream: { targets: ["{UP1}"], timeout: 10s } }
`, up)
	br, head := openEvents(t, gw.addr, "", 20*time.Second)
	if head.StatusCode() != 200 || string(head.ContentType()) != "text/event-stream" {
		t.Fatalf("head: %d %q", head.StatusCode(), head.ContentType())
	}
	const events = 6
	start := time.Now()
	for i := range events {
		if i > 0 {
			// Events a while apart: the whole stream lasts longer than
			// server.write_timeout.
			time.Sleep(400 * time.Millisecond)
		}
		next <- i
		readEvent(t, br, i, start)
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("the stream lasted %v, not past write_timeout", took)
	}
	next <- -1
	if tail, err := br.ReadString('\n'); err != nil || tail != "0\r\n" {
		t.Fatalf("end of stream: %q %v", tail, err)
	}
}
