package gateway

import (
	"regexp"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// uuidV4 is the layout of a generated request id.
var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestRequestIDOnEveryAnswer: every kind of answer the gateway gives
// carries X-Request-Id, the client's or a generated one, with the access
// log off: proxied, respond, 404, 413, 429, 502, 503 (breaker open), 504,
// and the fallbacks from the cache, the alternate upstream and the static
// answer.
func TestRequestIDOnEveryAnswer(t *testing.T) {
	release := make(chan struct{})
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		if len(ctx.Request.Header.Peek("X-Fail")) > 0 {
			ctx.SetStatusCode(503)
			return
		}
		// The upstream's own id must not replace the request's.
		ctx.Response.Header.Set("X-Request-Id", "upstream-made")
		ctx.SetBodyString("ok")
	})
	slow := startUpstream(t, func(ctx *fasthttp.RequestCtx) { <-release })
	t.Cleanup(func() { close(release) })
	gw := startGateway(t, `
routes:
  - { name: proxied, match: { path_prefix: /up/ }, upstream: { targets: ["{UP1}"], retries: 0 } }
  - { name: hello, match: { path: /hello }, respond: { status: 200, body: "hi" } }
  - { name: small, match: { path: /small }, max_body_size: 4, upstream: { targets: ["{UP1}"] } }
  - { name: limited, match: { path: /limited }, rate_limit: { rate: 1/h, burst: 1 }, respond: {} }
  - { name: dead, match: { path_prefix: /dead/ }, upstream: { targets: ["{UP2}"], retries: 0 } }
  - name: breaker
    match: { path_prefix: /breaker/ }
    upstream: { targets: ["{UP2}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 1, open_for: 1h }
  - { name: slow, match: { path_prefix: /slow/ }, upstream: { targets: ["{UP3}"], retries: 0, timeout: 100ms } }
  - name: cached
    match: { path_prefix: /c/ }
    upstream: { targets: ["{UP1}"], retries: 0 }
    fallback: { on_status: [503], cache: {} }
  - name: replica
    match: { path_prefix: /r/ }
    upstream: { targets: ["{UP2}"], retries: 0 }
    fallback: { upstream: { targets: ["{UP1}"] } }
  - name: static
    match: { path_prefix: /s/ }
    upstream: { targets: ["{UP2}"], retries: 0 }
    fallback: { static: { status: 503, body: "later" } }
`, up, deadAddr(t), slow)
	// Warm-ups: a copy for the cache, the breaker opened, the one token
	// of the rate limit spent.
	for _, w := range []struct {
		path string
		want int
	}{{"/c/page", 200}, {"/breaker/x", 502}, {"/limited", 200}} {
		if st := gw.do(t, "GET", w.path, nil, "").StatusCode(); st != w.want {
			t.Fatalf("warm-up %s: status %d, want %d", w.path, st, w.want)
		}
	}
	tests := []struct {
		desc, method, path, body string
		hdr                      map[string]string
		wantStatus               int
		wantFallback             string
	}{
		{desc: "proxied", path: "/up/x", wantStatus: 200},
		{desc: "respond", path: "/hello", wantStatus: 200},
		{desc: "no route", path: "/nowhere", wantStatus: 404},
		{desc: "body too large", method: "POST", path: "/small", body: "0123456789", wantStatus: 413},
		{desc: "rate limited", path: "/limited", wantStatus: 429},
		{desc: "upstream failed", path: "/dead/x", wantStatus: 502},
		{desc: "breaker open", path: "/breaker/x", wantStatus: 503},
		{desc: "upstream timed out", path: "/slow/x", wantStatus: 504},
		{desc: "cache fallback", path: "/c/page", hdr: map[string]string{"X-Fail": "1"}, wantStatus: 200, wantFallback: "cache"},
		{desc: "alternate upstream fallback", path: "/r/x", wantStatus: 200, wantFallback: "upstream"},
		{desc: "static fallback", path: "/s/x", wantStatus: 503, wantFallback: "static"},
	}
	for _, tt := range tests {
		for _, clientID := range []string{"client-id-1", ""} {
			t.Run(tt.desc+pick(clientID == "", " (generated)", " (client's)"), func(t *testing.T) {
				hdr := map[string]string{}
				for k, v := range tt.hdr {
					hdr[k] = v
				}
				if clientID != "" {
					hdr["X-Request-Id"] = clientID
				}
				method := tt.method
				if method == "" {
					method = "GET"
				}
				resp := gw.do(t, method, tt.path, hdr, tt.body)
				if resp.StatusCode() != tt.wantStatus || string(resp.Header.Peek("X-Fallback")) != tt.wantFallback {
					t.Fatalf("status %d X-Fallback %q, want %d %q", resp.StatusCode(), resp.Header.Peek("X-Fallback"), tt.wantStatus, tt.wantFallback)
				}
				var ids []string
				for _, v := range resp.Header.PeekAll("X-Request-Id") {
					ids = append(ids, string(v))
				}
				switch {
				case len(ids) != 1:
					t.Errorf("X-Request-Id %q, want exactly one", ids)
				case clientID != "" && ids[0] != clientID:
					t.Errorf("X-Request-Id %q, want the client's %q", ids[0], clientID)
				case clientID == "" && !uuidV4.MatchString(ids[0]):
					t.Errorf("X-Request-Id %q, want a generated id", ids[0])
				}
			})
		}
	}
}

// TestRequestIDOnRefusals: answers the gateway gives before routing (a
// request fasthttp could not read, one the path policy refuses, a declared
// body refused before 100 Continue) carry a request id too.
func TestRequestIDOnRefusals(t *testing.T) {
	gw := startGateway(t, `
routes:
  - { name: small, match: { path: /small }, max_body_size: 4, respond: {} }
`)
	tests := []struct {
		desc, give, status, wantID string
	}{
		{desc: "unreadable request", give: "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: "HTTP/1.1 400"},
		{desc: "path policy", give: "GET /a%2Fb HTTP/1.1\r\nHost: a\r\nX-Request-Id: mine\r\n\r\n", status: "HTTP/1.1 400", wantID: "mine"},
		{desc: "body refused before 100 Continue", give: "POST /small HTTP/1.1\r\nHost: a\r\nX-Request-Id: mine\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n", status: "HTTP/1.1 413", wantID: "mine"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			status, resp := gw.raw(t, tt.give)
			if !strings.HasPrefix(status, tt.status) {
				t.Fatalf("status line %q, want %s:\n%s", status, tt.status, resp)
			}
			head, _, _ := strings.Cut(resp, "\r\n\r\n")
			var ids []string
			for _, l := range strings.Split(head, "\r\n") {
				if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, "X-Request-Id") {
					ids = append(ids, v)
				}
			}
			switch {
			case len(ids) != 1:
				t.Errorf("X-Request-Id %q, want exactly one:\n%s", ids, head)
			case tt.wantID != "" && ids[0] != tt.wantID:
				t.Errorf("X-Request-Id %q, want %q", ids[0], tt.wantID)
			case tt.wantID == "" && !uuidV4.MatchString(ids[0]):
				t.Errorf("X-Request-Id %q, want a generated id", ids[0])
			}
		})
	}
}

// TestRequestIDAnyCase: a client's id is its own whatever the case of
// the header's name, both for the upstream and on the answer.
func TestRequestIDAnyCase(t *testing.T) {
	got := make(chan []string, 1)
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		var ids []string
		for _, v := range ctx.Request.Header.PeekAll("X-Request-Id") {
			ids = append(ids, string(v))
		}
		got <- ids
	})
	gw := startGateway(t, `
routes:
  - { name: proxied, match: { path_prefix: / }, upstream: { targets: ["{UP1}"] } }
`, up)
	status, resp := gw.raw(t, "GET /x HTTP/1.1\r\nHost: a\r\nx-request-ID: lower-1\r\nConnection: close\r\n\r\n")
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("status line %q", status)
	}
	if ids := <-got; len(ids) != 1 || ids[0] != "lower-1" {
		t.Errorf("upstream got X-Request-Id %q, want the client's alone", ids)
	}
	if !strings.Contains(resp, "\r\nX-Request-Id: lower-1\r\n") {
		t.Errorf("answer does not carry the client's id:\n%s", resp)
	}
}
