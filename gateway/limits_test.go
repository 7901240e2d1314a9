package gateway

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestBadInput(t *testing.T) {
	var reached atomic.Int32
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		reached.Add(1)
		ctx.SetBodyString("ok")
	})
	cfg := `
server: { max_header_bytes: 4KiB }
routes:
  - name: small
    match: { path_prefix: /small }
    max_body_size: 10
    upstream: { targets: ["{UP1}"] }
  - name: any
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"] }
`
	gw := startGateway(t, cfg, up)
	tests := []struct {
		desc       string
		give       string
		wantStatus string
	}{
		{
			desc:       "declared body over the route limit",
			give:       "POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n01234567890",
			wantStatus: "HTTP/1.1 413",
		},
		{
			desc:       "header larger than max_header_bytes",
			give:       "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\n\r\n",
			wantStatus: "HTTP/1.1 431",
		},
		{
			desc:       "garbage request line",
			give:       "HELLO\r\n\r\n",
			wantStatus: "HTTP/1.1 400",
		},
		{
			desc:       "both Content-Length and Transfer-Encoding",
			give:       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			wantStatus: "HTTP/1.1 400",
		},
		{
			desc:       "two different Content-Length values",
			give:       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
			wantStatus: "HTTP/1.1 400",
		},
		// Last: its streamed body reaches the upstream, which may count it
		// after the answer, while the next case would be watching.
		{
			desc:       "chunked body over the route limit",
			give:       "POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n012345\r\n0\r\n\r\n",
			wantStatus: "HTTP/1.1 413",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			before := reached.Load()
			status, resp := gw.raw(t, tt.give)
			if !strings.HasPrefix(status, tt.wantStatus) {
				t.Fatalf("status line %q, want %s; answer:\n%s", status, tt.wantStatus, resp)
			}
			if !strings.Contains(resp, "Connection: close") {
				t.Errorf("the connection must be closed after a refused request:\n%s", resp)
			}
			if !strings.Contains(resp, `"error":`) {
				t.Errorf("answer has no JSON error body:\n%s", resp)
			}
			if tt.wantStatus != "HTTP/1.1 413" || !strings.Contains(tt.give, "chunked") {
				if n := reached.Load() - before; n != 0 {
					t.Errorf("refused request reached the upstream %d times", n)
				}
			}
		})
	}
}

func TestRespondAndNotFound(t *testing.T) {
	gw := startGateway(t, `
routes:
  - name: hello
    match: { path: /hello, methods: [GET, HEAD] }
    respond: { status: 201, body: "hi\n", headers: { Content-Type: text/plain, X-Own: "yes" } }
`)
	resp := gw.do(t, "GET", "/hello", nil, "")
	if resp.StatusCode() != 201 || string(resp.Body()) != "hi\n" || string(resp.Header.Peek("X-Own")) != "yes" {
		t.Errorf("respond route: %d %q X-Own=%q", resp.StatusCode(), resp.Body(), resp.Header.Peek("X-Own"))
	}
	resp = gw.do(t, "POST", "/hello", nil, "")
	if resp.StatusCode() != 404 {
		t.Errorf("method not in the route: status %d, want 404", resp.StatusCode())
	}
	resp = gw.do(t, "GET", "/nope", nil, "")
	if resp.StatusCode() != 404 || string(resp.Body()) != `{"error":"no route matches","route":""}`+"\n" {
		t.Errorf("no route: %d %q", resp.StatusCode(), resp.Body())
	}
	if ct := string(resp.Header.ContentType()); ct != "application/json" {
		t.Errorf("no route: Content-Type %q", ct)
	}
}

func TestPanicBecomes500(t *testing.T) {
	gw := startGateway(t, `
routes:
  - { name: boom, match: { path: /boom }, respond: { body: "never" } }
  - { name: fine, match: { path: /fine }, respond: { body: "fine" } }
`)
	snap := gw.current.Load()
	for _, rt := range snap.routes {
		if rt.name == "boom" {
			rt.handle = func(*fasthttp.RequestCtx) error { panic("test panic") }
		}
	}
	if resp := gw.do(t, "GET", "/boom", nil, ""); resp.StatusCode() != 500 {
		t.Errorf("panicking route: status %d, want 500", resp.StatusCode())
	}
	if resp := gw.do(t, "GET", "/fine", nil, ""); resp.StatusCode() != 200 {
		t.Errorf("after a panic: status %d, want 200", resp.StatusCode())
	}
}

func TestExpectContinueOverLimit(t *testing.T) {
	var reached atomic.Int32
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) { reached.Add(1) })
	gw := startGateway(t, `
routes:
  - { name: small, match: { path: /small }, max_body_size: 10, upstream: { targets: ["{UP1}"] } }
`, up)
	status, resp := gw.raw(t, "POST /small HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n")
	if !strings.HasPrefix(status, "HTTP/1.1 413") {
		t.Fatalf("status line %q, want 413 without 100 Continue; answer:\n%s", status, resp)
	}
	if !strings.Contains(resp, `"route":"small"`) {
		t.Errorf("answer lacks the JSON error body:\n%s", resp)
	}
	if reached.Load() != 0 {
		t.Error("refused request reached the upstream")
	}
	status, _ = gw.raw(t, "POST /small HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
	if !strings.HasPrefix(status, "HTTP/1.1 100") {
		t.Errorf("within the limit: first status line %q, want 100 Continue", status)
	}
}
