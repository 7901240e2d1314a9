package upstream

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestConnectErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	tests := []struct {
		desc     string
		give     Settings
		deadline time.Duration
		want     error
	}{
		{desc: "refused", give: Settings{Addr: refused}, deadline: 5 * time.Second, want: ErrConnect},
		{desc: "connect timeout", give: Settings{Addr: unresponsiveAddr(t), ConnectTimeout: 50 * time.Millisecond}, deadline: 5 * time.Second, want: ErrConnect},
		{desc: "deadline during connect", give: Settings{Addr: unresponsiveAddr(t)}, deadline: 50 * time.Millisecond, want: ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := newClient(t, tt.give)
			start := time.Now()
			var resp fasthttp.Response
			err := c.Do(newGet(tt.give.Addr, "/"), &resp, deadline(tt.deadline))
			if err != tt.want || KindOf(err) != KindOf(tt.want) {
				t.Fatalf("Do = %v, want %v", err, tt.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			if st := c.Stats(); st != (Stats{}) {
				t.Errorf("stats = %+v, want nothing open", st)
			}
		})
	}
}

func TestDeadlinePassed(t *testing.T) {
	c := newClient(t, Settings{Addr: "127.0.0.1:1"})
	var resp fasthttp.Response
	if err := c.Do(newGet("127.0.0.1:1", "/"), &resp, time.Now().Add(-time.Second)); err != ErrTimeout {
		t.Fatalf("Do = %v, want ErrTimeout", err)
	}
}

// TestTimeouts: an upstream that stops answering gives ErrTimeout at the
// deadline and its connection is closed, not reused.
func TestTimeouts(t *testing.T) {
	tests := []struct {
		desc string
		give string // what the upstream sends before hanging
		want error
	}{
		{desc: "no answer", give: "", want: ErrTimeout},
		{desc: "partial head", give: "HTTP/1.1 200 OK\r\nContent-", want: ErrTimeout},
		{desc: "partial buffered body", give: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", want: ErrBodyTimeout},
		{desc: "after interim response", give: "HTTP/1.1 100 Continue\r\n\r\n", want: ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			u := startRaw(t, func(c net.Conn, _ int) {
				br := bufio.NewReader(c)
				if _, ok := readRequest(br); !ok {
					return
				}
				_, _ = io.WriteString(c, tt.give)
				_, _ = io.Copy(io.Discard, br) // hang until the client closes
			})
			c := newClient(t, Settings{Addr: u.addr})
			const d = 100 * time.Millisecond
			start := time.Now()
			var resp fasthttp.Response
			err := c.Do(newGet(u.addr, "/"), &resp, deadline(d))
			elapsed := time.Since(start)
			if err != tt.want || KindOf(err) != Timeout || AfterHead(err) != (tt.want == ErrBodyTimeout) {
				t.Fatalf("Do = %v (after head: %v), want %v", err, AfterHead(err), tt.want)
			}
			if elapsed < d || elapsed > d+time.Second {
				t.Errorf("Do returned after %v, want about %v", elapsed, d)
			}
			if st := c.Stats(); st != (Stats{}) {
				t.Errorf("stats = %+v, want the connection closed", st)
			}
			_ = c.Do(newGet(u.addr, "/"), &resp, deadline(d))
			if got := u.conns.Load(); got != 2 {
				t.Errorf("upstream saw %d connections, want 2 (timed-out one not reused)", got)
			}
		})
	}
}

func TestStreamReadTimeout(t *testing.T) {
	u := startRaw(t, func(c net.Conn, _ int) {
		br := bufio.NewReader(c)
		if _, ok := readRequest(br); !ok {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nsome bytes")
		_, _ = io.Copy(io.Discard, br)
	})
	const rt = 100 * time.Millisecond
	c := newClient(t, Settings{Addr: u.addr, ReadTimeout: rt})
	var resp fasthttp.Response
	if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err := io.Copy(io.Discard, resp.BodyStream())
	elapsed := time.Since(start)
	if err != ErrTimeout || n != int64(len("some bytes")) {
		t.Fatalf("reading body = %d, %v; want 10 bytes, ErrTimeout", n, err)
	}
	if elapsed < rt || elapsed > rt+time.Second {
		t.Errorf("read returned after %v, want about %v", elapsed, rt)
	}
	_ = resp.CloseBodyStream()
	if st := c.Stats(); st != (Stats{}) {
		t.Errorf("stats = %+v, want the connection closed", st)
	}
}

// TestWriteTimeout: an upstream that does not read the request.
func TestWriteTimeout(t *testing.T) {
	done := make(chan struct{})
	u := startRaw(t, func(net.Conn, int) { <-done }) // never reads
	t.Cleanup(func() { close(done) })
	tests := []struct {
		desc     string
		give     Settings
		deadline time.Duration
	}{
		{desc: "deadline", give: Settings{Addr: u.addr}, deadline: 100 * time.Millisecond},
		{desc: "write timeout", give: Settings{Addr: u.addr, WriteTimeout: 100 * time.Millisecond}, deadline: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := newClient(t, tt.give)
			req := newGet(u.addr, "/")
			req.Header.SetMethod(fasthttp.MethodPost)
			const size = 1 << 30 // far more than socket buffers hold
			req.SetBodyStream(&patternReader{size: size}, size)
			start := time.Now()
			var resp fasthttp.Response
			err := c.Do(req, &resp, deadline(tt.deadline))
			if err != ErrTimeout {
				t.Fatalf("Do = %v, want ErrTimeout", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Do returned after %v", d)
			}
			if st := c.Stats(); st != (Stats{}) {
				t.Errorf("stats = %+v, want the connection closed", st)
			}
		})
	}
}

// TestNoDeadline: without a deadline, ReadTimeout bounds the response head.
func TestNoDeadline(t *testing.T) {
	u := startRaw(t, func(c net.Conn, _ int) {
		br := bufio.NewReader(c)
		if _, ok := readRequest(br); !ok {
			return
		}
		_, _ = io.Copy(io.Discard, br)
	})
	c := newClient(t, Settings{Addr: u.addr, ReadTimeout: 50 * time.Millisecond})
	start := time.Now()
	var resp fasthttp.Response
	if err := c.Do(newGet(u.addr, "/"), &resp, time.Time{}); err != ErrTimeout {
		t.Fatalf("Do = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > time.Second {
		t.Errorf("Do returned after %v", d)
	}
}
