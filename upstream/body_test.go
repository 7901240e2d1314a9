package upstream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// readBody returns resp's body, reading and closing a body stream.
func readBody(t testing.TB, resp *fasthttp.Response) (body []byte, streamed bool, err error) {
	t.Helper()
	if !resp.IsBodyStream() {
		return append([]byte(nil), resp.Body()...), false, nil
	}
	var buf bytes.Buffer
	_, err = io.Copy(&buf, resp.BodyStream())
	if cerr := resp.CloseBodyStream(); cerr != nil && err == nil {
		err = cerr
	}
	return buf.Bytes(), true, err
}

func TestDoResponseBodies(t *testing.T) {
	mib := pattern(1 << 20)
	tests := []struct {
		desc     string
		give     fasthttp.RequestHandler // upstream; nil uses raw
		raw      string                  // raw response, sent for every request
		close    bool                    // the raw server closes after each response
		method   string
		settings Settings
		want     []byte
		wantCode int
		streamed bool
		reuse    bool // the connection goes back to the pool
	}{
		{
			desc: "small buffered",
			give: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("hello, world!") },
			want: []byte("hello, world!"), wantCode: 200, reuse: true,
		},
		{
			desc: "1 MiB content-length streamed",
			give: func(ctx *fasthttp.RequestCtx) { ctx.SetBody(mib) },
			want: mib, wantCode: 200, streamed: true, reuse: true,
		},
		{
			desc:     "1 MiB content-length buffered by setting",
			give:     func(ctx *fasthttp.RequestCtx) { ctx.SetBody(mib) },
			settings: Settings{MaxBufferedBody: 2 << 20},
			want:     mib, wantCode: 200, reuse: true,
		},
		{
			desc: "1 MiB chunked in small chunks",
			give: func(ctx *fasthttp.RequestCtx) {
				ctx.SetBodyStream(&chunky{r: bytes.NewReader(mib), max: 1000}, -1)
			},
			want: mib, wantCode: 200, streamed: true, reuse: true,
		},
		{
			desc: "1 MiB chunked in one chunk",
			give: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyStream(bytes.NewReader(mib), -1) },
			want: mib, wantCode: 200, streamed: true, reuse: true,
		},
		{
			desc:     "small body streamed when MaxBufferedBody < 0",
			give:     func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("abc") },
			settings: Settings{MaxBufferedBody: -1},
			want:     []byte("abc"), wantCode: 200, streamed: true, reuse: true,
		},
		{
			desc: "chunked with extensions and trailers",
			raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"5;name=value\r\nhello\r\n1 ; x\r\n,\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n",
			want: []byte("hello, world"), wantCode: 200, streamed: true, reuse: true,
		},
		{
			desc:  "until close",
			raw:   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
			close: true,
			want:  []byte("until the end"), wantCode: 200, streamed: true,
		},
		{
			desc: "connection close header",
			raw:  "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
			want: []byte("ok"), wantCode: 200,
		},
		{
			desc: "HTTP/1.0 without keep-alive",
			raw:  "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
			want: []byte("ok"), wantCode: 200,
		},
		{
			desc: "HTTP/1.0 keep-alive",
			raw:  "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
			want: []byte("ok"), wantCode: 200, reuse: true,
		},
		{
			desc: "interim 100 and 103 skipped",
			raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
				"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nnew",
			want: []byte("new"), wantCode: 201, reuse: true,
		},
		{
			desc: "leading empty line tolerated",
			raw:  "\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
			want: []byte("x"), wantCode: 200, reuse: true,
		},
		{
			desc: "204 has no body",
			give: func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(204) },
			want: []byte{}, wantCode: 204, reuse: true,
		},
		{
			desc: "304 has no body despite content-length",
			raw:  "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
			want: []byte{}, wantCode: 304, reuse: true,
		},
		{
			desc:   "HEAD has no body",
			give:   func(ctx *fasthttp.RequestCtx) { ctx.SetBody(mib) },
			method: fasthttp.MethodHead,
			want:   []byte{}, wantCode: 200, reuse: true,
		},
		{
			desc: "empty body",
			raw:  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			want: []byte{}, wantCode: 200, reuse: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var addr string
			if tt.give != nil {
				addr = startServer(t, tt.give).addr
			} else {
				serve := serveRaw(tt.raw)
				if tt.close {
					serve = func(c net.Conn, _ int) {
						if _, ok := readRequest(bufioReader(c)); ok {
							_, _ = io.WriteString(c, tt.raw)
						}
					}
				}
				addr = startRaw(t, serve).addr
			}
			s := tt.settings
			s.Addr = addr
			c := newClient(t, s)
			for round := range 2 {
				req := newGet(addr, "/")
				if tt.method != "" {
					req.Header.SetMethod(tt.method)
				}
				var resp fasthttp.Response
				if err := c.Do(req, &resp, deadline(5e9)); err != nil {
					t.Fatalf("round %d: Do: %v", round, err)
				}
				if resp.Header.ConnectionClose() || string(resp.Header.Protocol()) != "HTTP/1.1" {
					t.Errorf("ConnectionClose() = %v, Protocol() = %q; want false, HTTP/1.1",
						resp.Header.ConnectionClose(), resp.Header.Protocol())
				}
				if got := resp.StatusCode(); got != tt.wantCode {
					t.Errorf("status = %d, want %d", got, tt.wantCode)
				}
				body, streamed, err := readBody(t, &resp)
				if err != nil {
					t.Fatalf("reading body: %v", err)
				}
				if streamed != tt.streamed {
					t.Errorf("streamed = %v, want %v", streamed, tt.streamed)
				}
				if !bytes.Equal(body, tt.want) {
					t.Errorf("body: got %d bytes %.40q, want %d bytes %.40q", len(body), body, len(tt.want), tt.want)
				}
				st := c.Stats()
				if st.Busy != 0 {
					t.Errorf("busy = %d after the response, want 0", st.Busy)
				}
				if wantIdle := b2i(tt.reuse); st.Idle != wantIdle {
					t.Errorf("idle = %d, want %d", st.Idle, wantIdle)
				}
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestDoProtocolErrors(t *testing.T) {
	big := "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 20<<10) + "\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		desc string
		give string // raw response
		want error
	}{
		{desc: "garbage status line", give: "HTTP/1.1 OK 200\r\nContent-Length: 0\r\n\r\n", want: ErrProtocol},
		{desc: "not http", give: "SSH-2.0-OpenSSH_9.6\r\n\r\n", want: ErrProtocol},
		{desc: "binary junk", give: "\x00\x01\x02\x03\r\n\r\n", want: ErrProtocol},
		{desc: "status code 99", give: "HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n", want: ErrProtocol},
		{desc: "invalid header line", give: "HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n", want: ErrProtocol},
		{desc: "content-length and transfer-encoding", give: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: ErrProtocol},
		{desc: "transfer-encoding and content-length", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-length : 5\r\n\r\n0\r\n\r\n", want: ErrProtocol},
		{desc: "two different content-lengths", give: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", want: ErrProtocol},
		{desc: "bad content-length", give: "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello", want: ErrProtocol},
		{desc: "unsupported transfer-encoding", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx", want: ErrProtocol},
		{desc: "head too large", give: big, want: ErrProtocol},
		{desc: "bare LF blank line", give: "HTTP/1.1 200 OK\nContent-Length: 0\n\n", want: ErrProtocol},
		{desc: "CRLF blank line after bare LF", give: "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", want: ErrProtocol},
		{desc: "leading bare LF", give: "\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", want: ErrProtocol},
		{desc: "101 switching protocols", give: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", want: ErrProtocol},
		{desc: "truncated buffered body", give: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", want: ErrBodyReset},
		{desc: "partial head", give: "HTTP/1.1 200 OK\r\nContent-Len", want: ErrReset},
		{desc: "closed before any byte", give: "", want: ErrReset},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			u := startAnswering(t, tt.give)
			c := newClient(t, Settings{Addr: u.addr})
			var resp fasthttp.Response
			resp.Header.Set("X-Before", "stale")
			resp.SetBodyString("stale")
			err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9))
			if err != tt.want {
				t.Fatalf("Do: got %v, want %v", err, tt.want)
			}
			if after := tt.want == ErrBodyReset; AfterHead(err) != after {
				t.Errorf("AfterHead = %v, want %v", !after, after)
			}
			var fresh fasthttp.Response
			if resp.StatusCode() != 200 || len(resp.Body()) != 0 || resp.IsBodyStream() ||
				resp.Header.Len() != fresh.Header.Len() || resp.Header.Peek("X-Before") != nil {
				t.Errorf("resp not reset after error:\n%s", &resp)
			}
			if st := c.Stats(); st.Open != 0 {
				t.Errorf("stats after error = %+v, want no open connection", st)
			}
			if u.conns.Load() != 1 {
				t.Errorf("upstream saw %d connections, want 1 (no retry)", u.conns.Load())
			}
		})
	}
}

func TestStreamedBodyErrors(t *testing.T) {
	tests := []struct {
		desc string
		give string // raw response; the connection is closed after it
		want error
	}{
		{desc: "bad chunk size", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", want: ErrProtocol},
		{desc: "chunk size overflow", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", want: ErrProtocol},
		{desc: "negative chunk size", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", want: ErrProtocol},
		{desc: "chunk size with LF only", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", want: ErrProtocol},
		{desc: "chunk longer than its size", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n", want: ErrProtocol},
		{desc: "bad chunk extension", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n", want: ErrProtocol},
		{desc: "bad trailer", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nnot a trailer\r\n\r\n", want: ErrProtocol},
		{desc: "chunked truncated", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", want: ErrReset},
		{desc: "chunked without last chunk", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", want: ErrReset},
		{desc: "content-length truncated", give: "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nshort", want: ErrReset},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			u := startAnswering(t, tt.give)
			c := newClient(t, Settings{Addr: u.addr})
			var resp fasthttp.Response
			if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
				t.Fatalf("Do: %v", err)
			}
			_, _, err := readBody(t, &resp)
			if !errors.Is(err, tt.want) {
				t.Fatalf("reading body: got %v, want %v", err, tt.want)
			}
			if st := c.Stats(); st.Open != 0 {
				t.Errorf("stats after a failed body = %+v, want no open connection", st)
			}
		})
	}
}

// TestStreamedBodyCloseEarly: closing a body before its end closes the
// connection; closing one whose rest is already buffered keeps it.
func TestStreamedBodyCloseEarly(t *testing.T) {
	for _, tt := range []struct {
		desc string
		give int // body size
		want int // idle connections after Close
	}{
		{desc: "rest not buffered", give: 8 << 20, want: 0},
		{desc: "rest buffered", give: 100, want: 1},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			body := pattern(tt.give)
			u := startServer(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBody(body) })
			c := newClient(t, Settings{Addr: u.addr, MaxBufferedBody: -1})
			var resp fasthttp.Response
			if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
				t.Fatal(err)
			}
			if !resp.IsBodyStream() {
				t.Fatal("want a streamed body")
			}
			if _, err := resp.BodyStream().Read(make([]byte, 10)); err != nil {
				t.Fatal(err)
			}
			if err := resp.CloseBodyStream(); err != nil {
				t.Fatal(err)
			}
			if st := c.Stats(); st.Busy != 0 || st.Idle != tt.want {
				t.Errorf("stats = %+v, want idle %d, busy 0", st, tt.want)
			}
		})
	}
}

func TestParseChunkSize(t *testing.T) {
	tests := []struct {
		give   string
		want   int64
		wantOK bool
	}{
		{"0\r\n", 0, true},
		{"a\r\n", 10, true},
		{"FF\r\n", 255, true},
		{"7fffffffffffffff\r\n", 0, false},
		{"fffffffffffffff\r\n", 1<<60 - 1, true},
		{"10;ext=1\r\n", 16, true},
		{"10 ;ext\r\n", 16, true},
		{"\r\n", 0, false},
		{";x\r\n", 0, false},
		{"1 2\r\n", 0, false},
		{"1;\x01\r\n", 0, false},
		{"0x10\r\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.give), func(t *testing.T) {
			got, ok := parseChunkSize([]byte(tt.give))
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("parseChunkSize(%q) = %d, %v; want %d, %v", tt.give, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestMaxResponseBody: a declared length over the bound fails Do; a
// chunked or until-close body fails its read once it passes the bound;
// bodies within it pass whole, also when read in large direct blocks.
func TestMaxResponseBody(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	tests := []struct {
		desc    string
		give    string
		wantDo  error
		wantErr error
		wantLen int
	}{
		{desc: "declared length over", give: "HTTP/1.1 200 OK\r\nContent-Length: 1025\r\n\r\n" + strings.Repeat("x", 1025), wantDo: ErrTooLarge},
		{desc: "declared length at the bound", give: "HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n" + strings.Repeat("x", 1024), wantLen: 1024},
		{desc: "chunked over", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + strings.Repeat("x", 1024) + "\r\n1\r\nx\r\n0\r\n\r\n", wantErr: ErrTooLarge},
		{desc: "chunked at the bound", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + strings.Repeat("x", 1024) + "\r\n0\r\n\r\n", wantLen: 1024},
		{desc: "until close over", give: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + big, wantErr: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			u := startAnswering(t, tt.give)
			c := newClient(t, Settings{Addr: u.addr, MaxResponseBody: 1024, MaxBufferedBody: -1})
			var resp fasthttp.Response
			err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9))
			if tt.wantDo != nil {
				if err != tt.wantDo {
					t.Fatalf("Do: %v, want %v", err, tt.wantDo)
				}
				return
			}
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			b, _, err := readBody(t, &resp)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("reading body: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(b) != tt.wantLen {
				t.Fatalf("body of %d bytes, err %v; want %d bytes", len(b), err, tt.wantLen)
			}
		})
	}
}

// TestPrefetch: an upstream that fails right after its head is found
// before the body is handed on; a good body is left whole.
func TestPrefetch(t *testing.T) {
	tests := []struct {
		desc string
		give string // raw response; the connection is closed after it
		want error
		body string // read after a nil Prefetch
	}{
		{desc: "closed after the head", give: "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", want: ErrReset},
		{desc: "chunked closed after the head", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", want: ErrReset},
		{desc: "bad first chunk", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", want: ErrProtocol},
		{desc: "good chunked", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", body: "hello"},
		{desc: "good fixed", give: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", body: "hello"},
		{desc: "empty", give: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", body: ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			u := startAnswering(t, tt.give)
			c := newClient(t, Settings{Addr: u.addr, MaxBufferedBody: -1})
			var resp fasthttp.Response
			if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
				t.Fatalf("Do: %v", err)
			}
			err := Prefetch(&resp)
			if err != tt.want {
				t.Fatalf("Prefetch = %v, want %v", err, tt.want)
			}
			if err != nil {
				resp.Reset()
				if st := c.Stats(); st.Open != 0 {
					t.Errorf("stats after a failed prefetch = %+v, want no open connection", st)
				}
				return
			}
			body, _, err := readBody(t, &resp)
			if err != nil || string(body) != tt.body {
				t.Errorf("body after Prefetch: %q, %v; want %q", body, err, tt.body)
			}
		})
	}
}

// TestPrefetchReadsAhead: when more of a plain body is due than the
// connection's buffer holds, Prefetch reads what the socket has of the
// rest instead of only checking it: a body cut off by a close it fails at
// once; bytes already sent come out after the buffered ones, through
// Read and through WriteTo; bytes still to come are read later as usual;
// and the connection goes back to the pool when the body was read to its
// end.
func TestPrefetchReadsAhead(t *testing.T) {
	const size = 300 << 10 // more than the buffer and the read-ahead block
	full := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
	tests := []struct {
		desc    string
		first   int  // body bytes sent with the head, before Prefetch
		close   bool // the upstream closes after them
		want    error
		writeTo bool // read the body through WriteTo instead of Read
	}{
		{desc: "cut off after part of the body", first: 5, close: true, want: ErrReset},
		{desc: "all sent before Prefetch, read", first: size},
		{desc: "all sent before Prefetch, written", first: size, writeTo: true},
		{desc: "part sent, the rest after Prefetch", first: 100 << 10},
		{desc: "part sent, the rest after Prefetch, written", first: 100 << 10, writeTo: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			sent, more := make(chan struct{}), make(chan struct{})
			u := startRaw(t, func(c net.Conn, _ int) {
				br := bufioReader(c)
				if _, ok := readRequest(br); !ok {
					return
				}
				_, _ = io.WriteString(c, head)
				_, _ = c.Write(full[:tt.first])
				if tt.close {
					_ = c.(*net.TCPConn).CloseWrite()
				}
				close(sent)
				if tt.close {
					closeWrite(c)
					return
				}
				<-more
				_, _ = c.Write(full[tt.first:])
				_, _ = readRequest(br) // keep the connection open
			})
			c := newClient(t, Settings{Addr: u.addr, MaxBufferedBody: -1})
			var resp fasthttp.Response
			if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
				t.Fatalf("Do: %v", err)
			}
			<-sent // on loopback the bytes (and the close) are in the socket now
			err := Prefetch(&resp)
			close(more)
			if err != tt.want {
				t.Fatalf("Prefetch = %v, want %v", err, tt.want)
			}
			if err != nil {
				resp.Reset()
				if st := c.Stats(); st.Open != 0 {
					t.Errorf("stats after a failed prefetch = %+v, want no open connection", st)
				}
				return
			}
			var body []byte
			if tt.writeTo {
				var buf bytes.Buffer
				n, err := resp.BodyStream().(io.WriterTo).WriteTo(&buf)
				if err != nil || n != size {
					t.Fatalf("WriteTo = %d, %v; want %d, nil", n, err, size)
				}
				body = buf.Bytes()
				if cerr := resp.CloseBodyStream(); cerr != nil {
					t.Fatal(cerr)
				}
			} else if body, _, err = readBody(t, &resp); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, full) {
				t.Fatalf("body of %d bytes differs from the %d sent (first difference at %d)", len(body), len(full), firstDiff(body, full))
			}
			if st := c.Stats(); st.Open != 1 || st.Idle != 1 {
				t.Errorf("stats after the whole body = %+v, want its connection idle in the pool", st)
			}
		})
	}
}

// vectorRecorder is a VectorWriter that records the pieces of each call.
type vectorRecorder struct {
	calls [][]int // the length of each piece, per call
	buf   bytes.Buffer
}

func (v *vectorRecorder) WriteBuffers(bufs *net.Buffers) (int64, error) {
	var lens []int
	for _, b := range *bufs {
		lens = append(lens, len(b))
	}
	v.calls = append(v.calls, lens)
	return bufs.WriteTo(&v.buf)
}

// TestWriteFirstTo: with a VectorWriter set, WriteTo hands it all the
// body bytes already here, the connection's buffered ones and those read
// ahead, in one call, and writes the rest to its writer as usual; the
// bytes of both make the body in order.
func TestWriteFirstTo(t *testing.T) {
	const size, first = 300 << 10, 100 << 10
	full := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	sent, more := make(chan struct{}), make(chan struct{})
	u := startRaw(t, func(c net.Conn, _ int) {
		br := bufioReader(c)
		if _, ok := readRequest(br); !ok {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
		_, _ = c.Write(full[:first])
		close(sent)
		<-more
		_, _ = c.Write(full[first:])
		_, _ = readRequest(br)
	})
	c := newClient(t, Settings{Addr: u.addr, MaxBufferedBody: -1})
	var resp fasthttp.Response
	if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
		t.Fatalf("Do: %v", err)
	}
	<-sent
	if err := Prefetch(&resp); err != nil {
		t.Fatal(err)
	}
	close(more)
	var vw vectorRecorder
	if !WriteFirstTo(&resp, &vw) {
		t.Fatal("WriteFirstTo refused a body of known length")
	}
	var rest bytes.Buffer
	n, err := resp.BodyStream().(io.WriterTo).WriteTo(&rest)
	if err != nil || n != size {
		t.Fatalf("WriteTo = %d, %v; want %d, nil", n, err, size)
	}
	if len(vw.calls) != 1 || len(vw.calls[0]) != 2 {
		t.Fatalf("pieces handed to the VectorWriter: %v, want one call with the buffered and the read-ahead bytes", vw.calls)
	}
	if got := vw.calls[0][0] + vw.calls[0][1]; got != first {
		t.Errorf("the VectorWriter got %d bytes, want the %d sent before Prefetch", got, first)
	}
	if body := append(vw.buf.Bytes(), rest.Bytes()...); !bytes.Equal(body, full) {
		t.Fatalf("body differs (first difference at %d)", firstDiff(body, full))
	}
	_ = resp.CloseBodyStream()
	if st := c.Stats(); st.Idle != 1 {
		t.Errorf("stats = %+v, want the connection back in the pool", st)
	}
}

// TestHeadReadTakesBody: the first read of an answer takes in, past the
// read buffer, as much of a large body as has come, and every way of
// reading the answer gets those bytes in order: a streamed body of known
// length (read and written), a chunked one, one after an interim 103, and
// one buffered whole.
func TestHeadReadTakesBody(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), (200<<10)/16)
	chunked := func(b []byte) string {
		var sb strings.Builder
		for len(b) > 0 {
			n := min(len(b), 50000)
			fmt.Fprintf(&sb, "%x\r\n%s\r\n", n, b[:n])
			b = b[n:]
		}
		return sb.String() + "0\r\n\r\n"
	}
	fixed := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	tests := []struct {
		desc     string
		answer   string
		buffered int  // Settings.MaxBufferedBody
		writeTo  bool // read through WriteTo
	}{
		{desc: "fixed, read", answer: fixed, buffered: -1},
		{desc: "fixed, written", answer: fixed, buffered: -1, writeTo: true},
		{desc: "chunked", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body), buffered: -1},
		{desc: "after an interim answer", answer: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + fixed, buffered: -1},
		{desc: "buffered whole", answer: fixed, buffered: 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			u := startRaw(t, func(c net.Conn, _ int) {
				br := bufioReader(c)
				for {
					if _, ok := readRequest(br); !ok {
						return
					}
					_, _ = io.WriteString(c, tt.answer)
				}
			})
			c := newClient(t, Settings{Addr: u.addr, MaxBufferedBody: tt.buffered})
			for range 3 {
				var resp fasthttp.Response
				if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
					t.Fatalf("Do: %v", err)
				}
				if err := Prefetch(&resp); err != nil {
					t.Fatalf("Prefetch: %v", err)
				}
				var got []byte
				switch {
				case tt.writeTo:
					var buf bytes.Buffer
					if _, err := resp.BodyStream().(io.WriterTo).WriteTo(&buf); err != nil {
						t.Fatal(err)
					}
					got = buf.Bytes()
					_ = resp.CloseBodyStream()
				default:
					var err error
					if got, _, err = readBody(t, &resp); err != nil {
						t.Fatal(err)
					}
				}
				if !bytes.Equal(got, body) {
					t.Fatalf("body of %d bytes differs from the %d sent (first difference at %d)", len(got), len(body), firstDiff(got, body))
				}
				if st := c.Stats(); st.Idle != 1 || st.Busy != 0 {
					t.Fatalf("stats after the answer = %+v, want the connection back in the pool", st)
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

type endRecorder struct {
	calls int
	err   error
}

func (r *endRecorder) BodyEnded(err error) { r.calls++; r.err = err }

// TestWatch: a watcher learns once how a streamed body ended.
func TestWatch(t *testing.T) {
	tests := []struct {
		desc    string
		give    string
		readAll bool
		want    error
	}{
		{desc: "read to its end", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", readAll: true, want: nil},
		{desc: "broken by the upstream", give: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n", readAll: true, want: ErrProtocol},
		{desc: "closed early by its reader", give: "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nhello", want: ErrAbandoned},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			u := startAnswering(t, tt.give)
			c := newClient(t, Settings{Addr: u.addr, MaxBufferedBody: -1})
			var resp fasthttp.Response
			if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
				t.Fatalf("Do: %v", err)
			}
			var rec endRecorder
			if !Watch(&resp, &rec) {
				t.Fatal("Watch: no streamed body")
			}
			if tt.readAll {
				_, _ = io.ReadAll(resp.BodyStream())
			}
			resp.Reset() // closes the body
			if rec.calls != 1 || rec.err != tt.want {
				t.Errorf("BodyEnded called %d times with %v, want once with %v", rec.calls, rec.err, tt.want)
			}
		})
	}
}

// wrapper stands for a reader that wraps a body (a compressed stream).
type wrapper struct{ r io.Reader }

func (w wrapper) Read(p []byte) (int, error) { return w.r.Read(p) }
func (w wrapper) Unwrap() io.Reader          { return w.r }

// TestDetach: a body taken out of its response is not closed with it:
// it still reads whole, its watcher hears of its end only when it is
// closed, and WatcherOf finds the watcher through a reader that wraps it.
func TestDetach(t *testing.T) {
	u := startAnswering(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
	c := newClient(t, Settings{Addr: u.addr, MaxBufferedBody: -1})
	var resp fasthttp.Response
	if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
		t.Fatalf("Do: %v", err)
	}
	var rec endRecorder
	if !Watch(&resp, &rec) {
		t.Fatal("Watch: no streamed body")
	}
	if Detach(&fasthttp.Response{}) != nil {
		t.Error("Detach of a response without a streamed body returned one")
	}
	body := Detach(&resp)
	if body == nil || resp.IsBodyStream() || rec.calls != 0 {
		t.Fatalf("after Detach: body %v, response still streams %v, BodyEnded called %d times", body, resp.IsBodyStream(), rec.calls)
	}
	resp.SetBodyStream(wrapper{body}, -1)
	if WatcherOf(&resp) != &rec {
		t.Error("WatcherOf does not look through the wrapper")
	}
	got, err := io.ReadAll(resp.BodyStream())
	if err != nil || string(got) != "hello world" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := body.Close(); err != nil || rec.calls != 1 || rec.err != nil {
		t.Errorf("Close: %v; BodyEnded called %d times with %v, want once with nil", err, rec.calls, rec.err)
	}
}
