package cors

import (
	"bufio"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// browserRequest parses a request head as a browser sends it.
func browserRequest(t testing.TB, head string) *fasthttp.Request {
	t.Helper()
	req := &fasthttp.Request{}
	raw := strings.ReplaceAll(strings.TrimLeft(head, "\n"), "\n", "\r\n") + "\r\n"
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("parsing the request: %v", err)
	}
	return req
}

// A preflight as Chrome sends it for fetch(url, {method: "PUT",
// headers: {"Content-Type": "application/json", "X-Request-Id": "1"},
// credentials: "include"}).
const chromePreflight = `
OPTIONS /v1/orders/7 HTTP/1.1
Host: api.example.com
Accept: */*
Access-Control-Request-Method: PUT
Access-Control-Request-Headers: content-type,x-request-id
Origin: %s
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36
Sec-Fetch-Mode: cors
Sec-Fetch-Site: cross-site
Sec-Fetch-Dest: empty
Referer: %s/
Accept-Encoding: gzip, deflate, br, zstd
Accept-Language: en-US,en;q=0.9
`

func preflight(t testing.TB, origin string) *fasthttp.Request {
	return browserRequest(t, strings.ReplaceAll(chromePreflight, "%s", origin))
}

func newPolicy(t testing.TB, s Settings) *Policy {
	t.Helper()
	p, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var apiPolicy = Settings{
	AllowedOrigins:   []string{"https://app.example.com", "https://*.example.org"},
	AllowedMethods:   []string{"GET", "PUT", "delete"},
	AllowedHeaders:   []string{"Content-Type", "X-Request-Id"},
	ExposeHeaders:    []string{"X-Trace-Id"},
	AllowCredentials: true,
	MaxAge:           10 * time.Minute,
}

func TestPreflightAsABrowserSendsIt(t *testing.T) {
	p := newPolicy(t, apiPolicy)
	req := preflight(t, "https://app.example.com")
	if !IsPreflight(&req.Header) {
		t.Fatal("Chrome's preflight is not seen as one")
	}
	var resp fasthttp.Response
	if !p.Preflight(&req.Header, &resp.Header) {
		t.Fatal("the preflight was refused")
	}
	for name, want := range map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example.com",
		"Access-Control-Allow-Methods":     "GET, PUT, DELETE",
		"Access-Control-Allow-Headers":     "content-type, x-request-id",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Max-Age":           "600",
		"Vary":                             "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
	} {
		if got := string(resp.Header.Peek(name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestPreflightRefusals(t *testing.T) {
	p := newPolicy(t, apiPolicy)
	for _, tt := range []struct {
		desc   string
		origin string
		edit   func(*fasthttp.Request)
		want   bool
	}{
		{desc: "wildcard subdomain", origin: "https://shop.example.org", want: true},
		{desc: "deeper subdomain", origin: "https://a.b.example.org", want: true},
		{desc: "origin in upper case", origin: "HTTPS://APP.EXAMPLE.COM", want: true},
		{desc: "wildcard parent itself", origin: "https://example.org"},
		{desc: "wildcard other scheme", origin: "http://shop.example.org"},
		{desc: "lookalike suffix", origin: "https://evilexample.org"},
		{desc: "suffix inside another host", origin: "https://shop.example.org.evil.com"},
		{desc: "user info smuggled", origin: "https://evil.com@x.example.org"},
		{desc: "other origin", origin: "https://evil.com"},
		{desc: "exact origin with a port", origin: "https://app.example.com:8443"},
		{desc: "null origin", origin: "null"},
		{desc: "method not allowed", origin: "https://app.example.com", edit: func(r *fasthttp.Request) {
			r.Header.Set("Access-Control-Request-Method", "PATCH")
		}},
		{desc: "header not allowed", origin: "https://app.example.com", edit: func(r *fasthttp.Request) {
			r.Header.Set("Access-Control-Request-Headers", "content-type, authorization")
		}},
		{desc: "no headers asked", origin: "https://app.example.com", want: true, edit: func(r *fasthttp.Request) {
			r.Header.Del("Access-Control-Request-Headers")
		}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			req := preflight(t, tt.origin)
			if tt.edit != nil {
				tt.edit(req)
			}
			var resp fasthttp.Response
			if got := p.Preflight(&req.Header, &resp.Header); got != tt.want {
				t.Fatalf("Preflight = %v, want %v", got, tt.want)
			}
			if !tt.want && resp.Header.Peek("Access-Control-Allow-Origin") != nil {
				t.Fatal("a refused preflight carries Access-Control-Allow-Origin")
			}
			if string(resp.Header.Peek("Vary")) == "" {
				t.Fatal("no Vary")
			}
		})
	}
}

func TestIsPreflight(t *testing.T) {
	for _, tt := range []struct {
		desc, head string
		want       bool
	}{
		{desc: "preflight", head: "OPTIONS / HTTP/1.1\nHost: a\nOrigin: https://x.com\nAccess-Control-Request-Method: GET\n", want: true},
		{desc: "OPTIONS without Origin", head: "OPTIONS / HTTP/1.1\nHost: a\nAccess-Control-Request-Method: GET\n"},
		{desc: "OPTIONS without the method asked", head: "OPTIONS / HTTP/1.1\nHost: a\nOrigin: https://x.com\n"},
		{desc: "bare OPTIONS", head: "OPTIONS * HTTP/1.1\nHost: a\n"},
		{desc: "GET with both", head: "GET / HTTP/1.1\nHost: a\nOrigin: https://x.com\nAccess-Control-Request-Method: GET\n"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if got := IsPreflight(&browserRequest(t, tt.head).Header); got != tt.want {
				t.Fatalf("IsPreflight = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	p := newPolicy(t, apiPolicy)
	get := func(origin string) *fasthttp.Request {
		head := "GET /v1/orders HTTP/1.1\nHost: api.example.com\nSec-Fetch-Mode: cors\n"
		if origin != "" {
			head += "Origin: " + origin + "\n"
		}
		return browserRequest(t, head)
	}

	var resp fasthttp.Response
	resp.Header.Set("Vary", "Accept-Encoding") // from the upstream
	if !p.Apply(&get("https://app.example.com").Header, &resp.Header) {
		t.Fatal("allowed origin refused")
	}
	if got := string(resp.Header.Peek("Access-Control-Allow-Origin")); got != "https://app.example.com" {
		t.Errorf("Access-Control-Allow-Origin = %q", got)
	}
	if got := string(resp.Header.Peek("Access-Control-Expose-Headers")); got != "X-Trace-Id" {
		t.Errorf("Access-Control-Expose-Headers = %q", got)
	}
	if got := string(resp.Header.Peek("Access-Control-Allow-Credentials")); got != "true" {
		t.Errorf("Access-Control-Allow-Credentials = %q", got)
	}
	var varies []string
	for _, v := range resp.Header.PeekAll("Vary") {
		varies = append(varies, string(v))
	}
	if strings.Join(varies, "|") != "Accept-Encoding|Origin" {
		t.Errorf("Vary = %q, want the upstream's and Origin", varies)
	}

	for _, origin := range []string{"https://evil.com", ""} {
		var resp fasthttp.Response
		if p.Apply(&get(origin).Header, &resp.Header) {
			t.Fatalf("origin %q allowed", origin)
		}
		if string(resp.Header.Peek("Vary")) != "Origin" {
			t.Errorf("origin %q: Vary = %q, want Origin", origin, resp.Header.Peek("Vary"))
		}
		n := 0
		for k := range resp.Header.All() {
			if strings.HasPrefix(strings.ToLower(string(k)), "access-control-") {
				n++
			}
		}
		if n != 0 {
			t.Errorf("origin %q got %d CORS headers, want none", origin, n)
		}
	}
}

func TestAnyOriginAndAnyHeader(t *testing.T) {
	p := newPolicy(t, Settings{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"PUT"}, AllowedHeaders: []string{"*"}})
	req := preflight(t, "https://whoever.net")
	var resp fasthttp.Response
	if !p.Preflight(&req.Header, &resp.Header) {
		t.Fatal("refused")
	}
	if got := string(resp.Header.Peek("Access-Control-Allow-Headers")); got != "content-type,x-request-id" {
		t.Errorf("Access-Control-Allow-Headers = %q, want the asked ones", got)
	}
	if resp.Header.Peek("Access-Control-Allow-Credentials") != nil || resp.Header.Peek("Access-Control-Max-Age") != nil {
		t.Error("credentials or max age sent when not configured")
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	for _, tt := range []struct {
		desc string
		give Settings
	}{
		{desc: "any origin with credentials", give: Settings{AllowedOrigins: []string{"*"}, AllowCredentials: true}},
		{desc: "null", give: Settings{AllowedOrigins: []string{"null"}}},
		{desc: "no scheme", give: Settings{AllowedOrigins: []string{"app.example.com"}}},
		{desc: "path", give: Settings{AllowedOrigins: []string{"https://app.example.com/"}}},
		{desc: "wildcard inside", give: Settings{AllowedOrigins: []string{"https://app.*.com"}}},
		{desc: "two wildcards", give: Settings{AllowedOrigins: []string{"https://*.*.com"}}},
		{desc: "negative max age", give: Settings{MaxAge: -time.Second}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if _, err := New(tt.give); err == nil {
				t.Fatal("New accepted the settings")
			}
		})
	}
}
