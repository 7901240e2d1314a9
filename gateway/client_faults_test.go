package gateway

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// clientFault sends one hostile request on a new connection: head, then
// body; with halfClose the client stops sending (FIN) and still reads the
// answer. It returns the status line ("" when none came).
func sendFault(t *testing.T, addr, head, body string, halfClose bool) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, head+body); err != nil {
		t.Fatal(err)
	}
	if halfClose {
		_ = c.(*net.TCPConn).CloseWrite()
	}
	all, _ := io.ReadAll(c)
	status, _, _ := strings.Cut(string(all), "\r\n")
	return status
}

// TestClientFaultsDoNotOpenBreaker: requests whose failure is the
// client's alone (HTTP/1.0 without Host, a malformed chunk, a client
// gone in the middle of a streamed body) get their own 4xx and metric and
// never count against the upstream: after many of them the breaker is
// still closed and a good request is proxied.
func TestClientFaultsDoNotOpenBreaker(t *testing.T) {
	var mu sync.Mutex
	var hosts []string
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.QueryArgs().Peek("v")) == "1.0" {
			mu.Lock()
			hosts = append(hosts, string(ctx.Request.Header.Host()))
			mu.Unlock()
		}
		if r := ctx.RequestBodyStream(); r != nil {
			_, _ = io.Copy(io.Discard, r)
		}
		ctx.SetBodyString("ok")
	})
	gw := startGateway(t, `
routes:
  - name: r
    match: { path_prefix: /r }
    upstream: { targets: ["{UP1}"], retries: 0 }
    circuit_breaker: { consecutive_failures: 5, open_for: 1m }
  - name: t
    match: { path_prefix: /t }
    upstream: { targets: ["{UP1}"], retries: 0 }
    circuit_breaker: { per: target, consecutive_failures: 5, open_for: 1m }
`, up)
	big := strings.Repeat("a", 70000) // over what is read before the handler runs
	const n = 8
	for _, route := range []string{"r", "t"} {
		for _, tt := range []struct {
			desc, head, body string
			halfClose        bool
			want             string
			kind             string // gateway_client_errors_total kind; "" for none
		}{
			{
				desc: "HTTP/1.0 without Host", head: "GET /" + route + "?v=1.0 HTTP/1.0\r\n\r\n",
				want: "HTTP/1.1 200 OK",
			},
			{
				desc: "malformed chunk after a large first chunk",
				head: "POST /" + route + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
				body: "11170\r\n" + big + "\r\nzz\r\n", want: "HTTP/1.1 400 Bad Request", kind: "malformed",
			},
			{
				desc: "client gone in the middle of a declared-length body",
				head: "POST /" + route + " HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n",
				body: big, halfClose: true, want: "HTTP/1.1 499", kind: "disconnect",
			},
			{
				desc: "client gone in the middle of a chunked body",
				head: "POST /" + route + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
				body: "11170\r\n" + big, halfClose: true, want: "HTTP/1.1 499", kind: "disconnect",
			},
		} {
			t.Run(route+"/"+tt.desc, func(t *testing.T) {
				for i := range n {
					if got := sendFault(t, gw.addr, tt.head, tt.body, tt.halfClose); !strings.HasPrefix(got, tt.want) {
						t.Fatalf("request %d: status %q, want %q", i, got, tt.want)
					}
				}
				if resp := gw.do(t, "GET", "/"+route, nil, ""); resp.StatusCode() != 200 || string(resp.Body()) != "ok" {
					t.Fatalf("good request after %d faults: status %d body %q; want the upstream's answer", n, resp.StatusCode(), resp.Body())
				}
			})
		}
	}
	if got := gw.metric(t, `gateway_breaker_state{route="r"}`); got != 0 {
		t.Errorf("route breaker state %v, want 0 (closed)", got)
	}
	for _, route := range []string{"r", "t"} {
		if got := gw.metric(t, `gateway_client_errors_total{kind="malformed",route="`+route+`"}`); got != n {
			t.Errorf("route %s: malformed client errors %v, want %d", route, got, n)
		}
		if got := gw.metric(t, `gateway_client_errors_total{kind="disconnect",route="`+route+`"}`); got != 2*n {
			t.Errorf("route %s: disconnect client errors %v, want %d", route, got, 2*n)
		}
		for _, kind := range []string{"other", "reset", "protocol", "timeout"} {
			if got := gw.metric(t, `gateway_upstream_errors_total{kind="`+kind+`",route="`+route+`"}`); got != 0 {
				t.Errorf("route %s: upstream errors of kind %s: %v, want 0", route, kind, got)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hosts) != 2*n {
		t.Errorf("upstream got %d HTTP/1.0 requests, want %d", len(hosts), 2*n)
	}
	wantHost := strings.TrimPrefix(up, "http://")
	for _, h := range hosts {
		if h != wantHost {
			t.Errorf("upstream saw Host %q for HTTP/1.0 without Host, want the target's (%s)", h, wantHost)
		}
	}
}

// TestHTTP10WithoutHostTakesHostHeader: an HTTP/1.0 request without Host
// to a route with host_header is sent with that host.
func TestHTTP10WithoutHostTakesHostHeader(t *testing.T) {
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString("host=" + string(ctx.Request.Header.Host()))
	})
	gw := startGateway(t, `
routes:
  - { name: r, match: { path_prefix: / }, upstream: { targets: ["{UP1}"], host_header: svc.internal } }
`, up)
	if status, resp := gw.raw(t, "GET / HTTP/1.0\r\n\r\n"); !strings.HasPrefix(status, "HTTP/1.1 200") || !strings.HasSuffix(resp, "host=svc.internal") {
		t.Errorf("status %q, answer %q: want 200 and the upstream to see Host svc.internal", status, resp)
	}
}
