package forward

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// authServer is a real fasthttp server on loopback that decides with
// decide and counts its calls.
func authServer(t *testing.T, decide func(ctx *fasthttp.RequestCtx)) (url string, calls *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	calls = &atomic.Int64{}
	srv := &fasthttp.Server{MaxIdleWorkerDuration: time.Millisecond, Handler: func(ctx *fasthttp.RequestCtx) {
		calls.Add(1)
		decide(ctx)
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return "http://" + ln.Addr().String() + "/check?via=gateway", calls
}

// rawServer answers each connection with answer, on a plain TCP listener
// (for answers a well-behaved server cannot give).
func rawServer(t *testing.T, answer func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				go func() { <-stop; c.Close() }()
				br := bufio.NewReader(c)
				for { // the request head
					line, err := br.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				answer(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(stop)
		wg.Wait()
	})
	return "http://" + ln.Addr().String() + "/check"
}

func newClient(t *testing.T, s Settings) *Client {
	t.Helper()
	c, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func inbound(t *testing.T, head string) *fasthttp.Request {
	t.Helper()
	req := &fasthttp.Request{}
	raw := strings.ReplaceAll(strings.TrimLeft(head, "\n"), "\n", "\r\n") + "\r\n"
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	return req
}

const spoofing = `
DELETE /v1/orders/7?force=1 HTTP/1.1
Host: api.example.com
Authorization: Bearer abc
Cookie: session=s1
X-Forwarded-For: 6.6.6.6
X-Forwarded-Proto: https
X-Forwarded-Host: admin.internal
X-Real-Ip: 6.6.6.6
Forwarded: for=6.6.6.6
X-Other: not listed
`

func TestAdmitsAndPassesOnlyTrustedForwardingData(t *testing.T) {
	var got fasthttp.RequestHeader
	var mu sync.Mutex
	url, _ := authServer(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		ctx.Request.Header.CopyTo(&got)
		mu.Unlock()
		ctx.Response.Header.Set("X-User-Id", "u-1")
		ctx.Response.Header.Set("X-Internal-Secret", "s3cr3t")
		ctx.SetStatusCode(fasthttp.StatusOK)
	})
	c := newClient(t, Settings{URL: url, RequestHeaders: []string{"Authorization", "Cookie"}, UpstreamHeaders: []string{"x-user-id"}})
	d, err := c.Check(inbound(t, spoofing), Forwarded{For: "203.0.113.5", Proto: "http", Host: "api.example.com"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allowed || d.Status != 200 || len(d.Headers) != 1 || d.Headers[0] != (Header{Name: "X-User-Id", Value: "u-1"}) {
		t.Fatalf("decision = %+v, want allowed with X-User-Id only", d)
	}
	mu.Lock()
	defer mu.Unlock()
	for name, want := range map[string]string{
		"Authorization":      "Bearer abc",
		"Cookie":             "session=s1",
		"X-Forwarded-For":    "203.0.113.5",
		"X-Forwarded-Proto":  "http",
		"X-Forwarded-Host":   "api.example.com",
		"X-Forwarded-Method": "DELETE",
		"X-Forwarded-Uri":    "/v1/orders/7?force=1",
		"X-Real-Ip":          "",
		"Forwarded":          "",
		"X-Other":            "",
	} {
		if v := string(got.Peek(name)); v != want {
			t.Errorf("the endpoint got %s: %q, want %q", name, v, want)
		}
	}
	if m, uri := string(got.Method()), string(got.RequestURI()); m != "DELETE" || uri != "/check?via=gateway" {
		t.Errorf("the endpoint got %s %s, want DELETE /check?via=gateway", m, uri)
	}
	if n := len(got.PeekAll("X-Forwarded-For")); n != 1 {
		t.Errorf("the endpoint got %d X-Forwarded-For headers, want 1", n)
	}
}

func TestRefusalIsReturnedWithAllowListedHeadersAndBody(t *testing.T) {
	url, _ := authServer(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="api"`)
		ctx.Response.Header.Set("X-Debug", "token expired at 12:00")
		ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		ctx.SetBodyString(`{"error":"login"}`)
	})
	c := newClient(t, Settings{URL: url, ClientHeaders: []string{"WWW-Authenticate"}, UpstreamHeaders: []string{"X-Debug"}})
	d, err := c.Check(inbound(t, "GET / HTTP/1.1\nHost: a\n"), Forwarded{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.Status != 401 || string(d.Body) != `{"error":"login"}` {
		t.Fatalf("decision = %+v", d)
	}
	if len(d.Headers) != 1 || d.Headers[0].Name != "Www-Authenticate" && d.Headers[0].Name != "WWW-Authenticate" {
		t.Fatalf("headers = %+v, want WWW-Authenticate only", d.Headers)
	}
}

func TestFailsClosed(t *testing.T) {
	// waitClosed holds the connection until the client or the test's
	// cleanup closes it.
	waitClosed := func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }
	for _, tt := range []struct {
		desc   string
		answer func(c net.Conn)
		want   error
	}{
		{desc: "hangs", want: ErrTimeout, answer: waitClosed},
		{desc: "endless chunked body", want: ErrTooLarge, answer: func(c net.Conn) {
			if _, err := c.Write([]byte("HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n")); err != nil {
				return
			}
			chunk := []byte(fmt.Sprintf("%x\r\n%s\r\n", 32<<10, strings.Repeat("x", 32<<10)))
			for {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}},
		{desc: "5 GB announced", want: ErrTooLarge, answer: func(c net.Conn) {
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5368709120\r\n\r\n"))
			waitClosed(c)
		}},
		{desc: "garbage", want: ErrBadAnswer, answer: func(c net.Conn) {
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n\r\n"))
		}},
		{desc: "closes at once", want: ErrUnreachable, answer: func(net.Conn) {}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			c := newClient(t, Settings{URL: rawServer(t, tt.answer), Timeout: 500 * time.Millisecond, MaxBodyBytes: 1 << 20})
			d, err := c.Check(inbound(t, "GET / HTTP/1.1\nHost: a\n"), Forwarded{}, time.Now())
			if d != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Check = %+v, %v; want %v", d, err, tt.want)
			}
		})
	}
	t.Run("nothing listens", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c := newClient(t, Settings{URL: "http://" + addr + "/"})
		if _, err := c.Check(inbound(t, "GET / HTTP/1.1\nHost: a\n"), Forwarded{}, time.Now()); !errors.Is(err, ErrUnreachable) {
			t.Fatalf("Check = %v, want ErrUnreachable", err)
		}
	})
}

func TestDecisionCache(t *testing.T) {
	url, calls := authServer(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Request.Header.Peek("Authorization")) {
		case "Bearer good":
			ctx.SetStatusCode(200)
		case "Bearer flaky":
			ctx.SetStatusCode(502)
		default:
			ctx.SetStatusCode(401)
		}
	})
	c := newClient(t, Settings{URL: url, RequestHeaders: []string{"Authorization"}, CacheTTL: time.Minute, CacheKeyHeaders: []string{"Authorization"}})
	now := time.Now()
	check := func(auth string, at time.Time) *Decision {
		t.Helper()
		d, err := c.Check(inbound(t, "GET /x HTTP/1.1\nHost: a\nAuthorization: "+auth+"\n"), Forwarded{}, at)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, step := range []struct {
		auth      string
		at        time.Duration
		allowed   bool
		wantCalls int64
	}{
		{auth: "Bearer good", allowed: true, wantCalls: 1},
		{auth: "Bearer good", at: time.Second, allowed: true, wantCalls: 1},     // cached
		{auth: "Bearer other", at: time.Second, wantCalls: 2},                   // another key
		{auth: "Bearer other", at: 2 * time.Second, wantCalls: 2},               // a 401 is cached too
		{auth: "Bearer flaky", wantCalls: 3},                                    // a 502 is not
		{auth: "Bearer flaky", wantCalls: 4},                                    //
		{auth: "Bearer good", at: 2 * time.Minute, allowed: true, wantCalls: 5}, // expired
	} {
		d := check(step.auth, now.Add(step.at))
		if d.Allowed != step.allowed || calls.Load() != step.wantCalls {
			t.Fatalf("%s at +%v: allowed %v after %d calls, want %v after %d", step.auth, step.at, d.Allowed, calls.Load(), step.allowed, step.wantCalls)
		}
	}
}

func TestCacheKeysDoNotCollide(t *testing.T) {
	c := newClient(t, Settings{URL: "http://127.0.0.1:1/", CacheTTL: time.Minute, CacheKeyHeaders: []string{"Authorization", "Cookie"}, CacheKeyRequest: true})
	heads := []string{
		"GET /a HTTP/1.1\nHost: h\nAuthorization: x\n",
		"GET /a HTTP/1.1\nHost: h\nAuthorization: x\nAuthorization: y\n",
		"GET /a HTTP/1.1\nHost: h\nAuthorization: xy\n",
		"GET /a HTTP/1.1\nHost: h\nCookie: x\n",
		"GET /a HTTP/1.1\nHost: h\n",
		"GET /b HTTP/1.1\nHost: h\nAuthorization: x\n",
		"POST /a HTTP/1.1\nHost: h\nAuthorization: x\nContent-Length: 0\n",
	}
	seen := map[[32]byte]string{}
	for _, h := range heads {
		k := c.cacheKey(inbound(t, h))
		if other, dup := seen[k]; dup {
			t.Fatalf("%q and %q share a cache key", h, other)
		}
		seen[k] = h
	}
	if c.cacheKey(inbound(t, heads[0])) != c.cacheKey(inbound(t, "GET /a?q=1 HTTP/1.1\nHost: other\nAuthorization: x\nX-Else: 1\n")) {
		t.Fatal("requests differing only outside the key got different keys")
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	for _, tt := range []struct {
		desc string
		give Settings
	}{
		{desc: "no URL", give: Settings{}},
		{desc: "not http", give: Settings{URL: "unix:///run/auth.sock"}},
		{desc: "X-Forwarded-For passed on", give: Settings{URL: "http://127.0.0.1:1/", RequestHeaders: []string{"X-Forwarded-For"}}},
		{desc: "X-Forwarded-Anything passed on", give: Settings{URL: "http://127.0.0.1:1/", RequestHeaders: []string{"x-forwarded-user"}}},
		{desc: "Forwarded passed on", give: Settings{URL: "http://127.0.0.1:1/", RequestHeaders: []string{"Forwarded"}}},
		{desc: "Host passed on", give: Settings{URL: "http://127.0.0.1:1/", RequestHeaders: []string{"Host"}}},
		{desc: "cache without key", give: Settings{URL: "http://127.0.0.1:1/", CacheTTL: time.Second}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if _, err := New(tt.give); err == nil {
				t.Fatal("New accepted the settings")
			}
		})
	}
}

func TestBodyOnlyWhenAsked(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	url, calls := authServer(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		bodies = append(bodies, string(ctx.Request.Header.ContentType())+"|"+string(ctx.Request.Body()))
		mu.Unlock()
	})
	post := func() *fasthttp.Request {
		return inbound(t, "POST /pay HTTP/1.1\nHost: a\nContent-Type: application/json\nContent-Length: 12\n\n{\"amount\":5}")
	}
	for _, s := range []Settings{{URL: url}, {URL: url, SendBody: true}} {
		if _, err := newClient(t, s).Check(post(), Forwarded{}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	small := newClient(t, Settings{URL: url, SendBody: true, MaxRequestBodyBytes: 4})
	if _, err := small.Check(post(), Forwarded{}, time.Now()); !errors.Is(err, ErrRequestTooLarge) {
		t.Fatalf("a body over the cap: %v, want ErrRequestTooLarge", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls.Load() != 2 || len(bodies) != 2 || bodies[0] != "|" || bodies[1] != `application/json|{"amount":5}` {
		t.Fatalf("the endpoint got %q in %d calls, want no body then the body, and no call for the body over the cap", bodies, calls.Load())
	}
}
