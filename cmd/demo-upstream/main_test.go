package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp's own sleepers: the server date updater lives for the
		// whole process, and a worker pool's cleaner notices a stop only
		// after its current sleep of up to 10s.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

// start serves two instances on loopback until the test ends and returns
// their base URLs.
func start(t *testing.T) []string {
	t.Helper()
	lns, err := listenAll("127.0.0.1:0, 127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	lns[0] = &readListener{Listener: lns[0], read: read}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, lns, log.New(io.Discard, "", 0)) }()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	urls := make([]string, len(lns))
	for i, ln := range lns {
		urls[i] = "http://" + ln.Addr().String()
	}
	return urls
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestEndpoints(t *testing.T) {
	urls := start(t)
	tests := []struct {
		desc        string
		give        string
		wantStatus  int
		wantType    string
		wantBodyLen int // -1: don't check
		wantBody    string
	}{
		{desc: "small bytes", give: "/bytes/13", wantStatus: 200, wantType: "application/octet-stream", wantBodyLen: 13, wantBody: "0123456789abc"},
		{desc: "zero bytes", give: "/bytes/0", wantStatus: 200, wantType: "application/octet-stream", wantBodyLen: 0},
		{desc: "bytes beyond the pattern", give: "/bytes/3000001", wantStatus: 200, wantType: "application/octet-stream", wantBodyLen: 3000001},
		{desc: "too many bytes", give: "/bytes/67108865", wantStatus: 400, wantBodyLen: -1},
		{desc: "bytes not a number", give: "/bytes/ten", wantStatus: 400, wantBodyLen: -1},
		{desc: "json", give: "/json/65536", wantStatus: 200, wantType: "application/json", wantBodyLen: 65536},
		{desc: "json, a record", give: "/json/9", wantStatus: 200, wantType: "application/json", wantBodyLen: 9, wantBody: `[{"id":0,`},
		{desc: "too much json", give: "/json/1048577", wantStatus: 400, wantBodyLen: -1},
		{desc: "status", give: "/status/503", wantStatus: 503, wantBody: "Service Unavailable\n", wantBodyLen: -1},
		{desc: "status no content", give: "/status/204", wantStatus: 204, wantBodyLen: 0},
		{desc: "status out of range", give: "/status/99", wantStatus: 400, wantBodyLen: -1},
		{desc: "delay", give: "/delay/10ms", wantStatus: 200, wantType: "application/json", wantBodyLen: -1},
		{desc: "delay in seconds", give: "/delay/0", wantStatus: 200, wantType: "application/json", wantBodyLen: -1},
		{desc: "delay too long", give: "/delay/61s", wantStatus: 400, wantBodyLen: -1},
		{desc: "delay negative", give: "/delay/-1s", wantStatus: 400, wantBodyLen: -1},
		{desc: "echo needs POST", give: "/echo", wantStatus: 405, wantBodyLen: -1},
		{desc: "headers", give: "/headers", wantStatus: 200, wantType: "application/json", wantBodyLen: -1},
		{desc: "unknown path", give: "/no/such/thing", wantStatus: 200, wantType: "application/json", wantBodyLen: -1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			resp, body := get(t, urls[0]+tt.give)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d (body %q)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantType != "" && resp.Header.Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", resp.Header.Get("Content-Type"), tt.wantType)
			}
			if tt.wantBodyLen >= 0 && len(body) != tt.wantBodyLen {
				t.Errorf("body length = %d, want %d", len(body), tt.wantBodyLen)
			}
			if tt.wantBody != "" && string(body) != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
			if got, want := resp.Header.Get("X-Instance"), strings.TrimPrefix(urls[0], "http://"); got != want {
				t.Errorf("X-Instance = %q, want %q", got, want)
			}
		})
	}
}

func TestBytesContent(t *testing.T) {
	urls := start(t)
	// A streamed body must continue the pattern exactly where the shared
	// buffer ends.
	n := 2*len(pattern) + 100
	_, body := get(t, urls[1]+"/bytes/"+itoa(n))
	want := bytes.Repeat(pattern, 3)[:n]
	if !bytes.Equal(body, want) {
		t.Fatalf("body of %d bytes differs from the repeated pattern", len(body))
	}
}

func TestEchoJSON(t *testing.T) {
	urls := start(t)
	for i, base := range urls {
		req, _ := http.NewRequest(http.MethodGet, base+"/some/path?a=1&b=2", nil)
		req.Header.Add("X-Forwarded-For", "192.0.2.1")
		req.Header.Add("X-Forwarded-For", "192.0.2.2")
		req.Header.Set("X-Request-Id", "abc")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got echoReply
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := echoReply{
			Instance: strings.TrimPrefix(base, "http://"),
			Method:   "GET",
			Path:     "/some/path",
			Query:    "a=1&b=2",
		}
		if got.Instance != want.Instance || got.Method != want.Method || got.Path != want.Path || got.Query != want.Query {
			t.Errorf("instance %d: got %+v, want %+v", i, got, want)
		}
		if got.RemoteAddr == "" {
			t.Errorf("instance %d: no remote_addr", i)
		}
		for k, v := range map[string]string{
			"X-Forwarded-For": "192.0.2.1, 192.0.2.2",
			"X-Request-Id":    "abc",
			"Host":            strings.TrimPrefix(base, "http://"),
		} {
			if got.Headers[k] != v {
				t.Errorf("instance %d: header %s = %q, want %q", i, k, got.Headers[k], v)
			}
		}
	}
}

func TestEchoBodyStreams(t *testing.T) {
	urls := start(t)
	// Larger than fasthttp's default request body limit, so it can only
	// come back if it is streamed.
	body := bytes.Repeat([]byte("0123456789abcdef"), 6<<20/16)
	tests := []struct {
		desc    string
		give    []byte
		chunked bool
	}{
		{desc: "content-length", give: body},
		{desc: "chunked", give: body, chunked: true},
		{desc: "empty", give: nil},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var give io.Reader = bytes.NewReader(tt.give)
			if tt.chunked {
				// A reader of unknown length makes net/http send chunks.
				give = io.MultiReader(give)
			}
			resp, err := http.Post(urls[0]+"/echo", "text/x-test", give)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/x-test" {
				t.Errorf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if !bytes.Equal(got, tt.give) {
				t.Errorf("echoed %d bytes, sent %d", len(got), len(tt.give))
			}
		})
	}
}

func TestShutdownCutsDelayShort(t *testing.T) {
	lns, err := listenAll("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	lns[0] = &readListener{Listener: lns[0], read: read}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, lns, log.New(io.Discard, "", 0)) }()

	status := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + lns[0].Addr().String() + "/delay/30s")
		if err != nil {
			status <- -1
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	select {
	case <-read: // the server is reading the request: it is in flight
	case got := <-status:
		t.Fatalf("delayed request ended with %d before the server read it", got)
	case <-time.After(10 * time.Second):
		t.Fatal("the server read no request within 10s")
	}
	began := time.Now()
	cancel()
	if got := <-status; got != http.StatusServiceUnavailable {
		t.Errorf("delayed request got %d, want 503", got)
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	http.DefaultClient.CloseIdleConnections()
}

// readListener closes read once the server has read from a connection.
type readListener struct {
	net.Listener
	read chan struct{}
	once sync.Once
}

func (l *readListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &readConn{Conn: c, l: l}, nil
}

type readConn struct {
	net.Conn
	l *readListener
}

func (c *readConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.l.once.Do(func() { close(c.l.read) })
	}
	return n, err
}

func TestListenAll(t *testing.T) {
	tests := []struct {
		desc string
		give string
	}{
		{desc: "empty", give: ""},
		{desc: "only commas", give: " , ,"},
		{desc: "bad address", give: "127.0.0.1:0,not an address"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if lns, err := listenAll(tt.give); err == nil {
				for _, ln := range lns {
					ln.Close()
				}
				t.Fatalf("listenAll(%q) succeeded", tt.give)
			}
		})
	}
}

func TestParseDelay(t *testing.T) {
	tests := []struct {
		give   string
		want   time.Duration
		wantOK bool
	}{
		{give: "250ms", want: 250 * time.Millisecond, wantOK: true},
		{give: "2", want: 2 * time.Second, wantOK: true},
		{give: "60s", want: 60 * time.Second, wantOK: true},
		{give: "1m0s", want: time.Minute, wantOK: true},
		{give: "61"},
		{give: "1h"},
		{give: "-5ms"},
		{give: "soon"},
		{give: ""},
	}
	for _, tt := range tests {
		got, ok := parseDelay(tt.give)
		if ok != tt.wantOK || (ok && got != tt.want) {
			t.Errorf("parseDelay(%q) = %v, %v; want %v, %v", tt.give, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestBytesAllocatesNothing(t *testing.T) {
	in := newInstance("127.0.0.1:9001")
	for _, n := range []int{13, 1024, 65536} {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/bytes/" + itoa(n))
		in.handle(&ctx) // warm up the header buffers
		allocs := testing.AllocsPerRun(200, func() {
			ctx.Response.Reset()
			in.handle(&ctx)
		})
		if allocs != 0 {
			t.Errorf("/bytes/%d: %v allocations per request, want 0", n, allocs)
		}
		if got := len(ctx.Response.Body()); got != n {
			t.Errorf("/bytes/%d: body of %d bytes", n, got)
		}
	}
}

func itoa(n int) string { return string(fasthttp.AppendUint(nil, n)) }
