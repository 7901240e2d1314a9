package gateway

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestPassiveHealthLearnsBrokenAnswers: a target that breaks its answers
// after the head, before any byte reached the client (502), in the
// middle of the body (the client's connection cut) or within a small body
// the gateway reads whole (502), is taken out of rotation by passive
// health like one that refuses connections: of 20 requests over it and a
// good target, exactly max_failures fail.
func TestPassiveHealthLearnsBrokenAnswers(t *testing.T) {
	good := startUpstream(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	afterHead := rawUpstream(t, func(c net.Conn) {
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbroken\r\n")
	})
	sent := make(chan struct{}, 4)
	midBody := rawUpstream(t, func(c net.Conn) {
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
		select {
		case <-sent: // the client has the first chunk
		case <-time.After(5 * time.Second):
		}
		_, _ = io.WriteString(c, "zz\r\nbroken\r\n")
	})
	shortBody := rawUpstream(t, func(c net.Conn) {
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
	})
	gw := startGateway(t, `
routes:
  - name: after-head
    match: { path: /after-head }
    upstream: { targets: ["{UP1}", "{UP3}"], retries: 0, passive_health: { max_failures: 2, cooldown: 1h } }
  - name: mid-body
    match: { path: /mid-body }
    upstream: { targets: ["{UP2}", "{UP3}"], retries: 0, passive_health: { max_failures: 2, cooldown: 1h } }
  - name: short-body
    match: { path: /short-body }
    upstream: { targets: ["{UP4}", "{UP3}"], retries: 0, passive_health: { max_failures: 2, cooldown: 1h } }
`, afterHead, midBody, good, shortBody)

	// get sends one request on its own connection and reports whether it
	// got the good target's whole answer. A broken answer's first chunk
	// is waited for, then the upstream told to break the rest.
	get := func(path string) bool {
		c, err := net.DialTimeout("tcp", gw.addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		var got strings.Builder
		for {
			line, err := br.ReadString('\n')
			got.WriteString(line)
			if strings.Contains(got.String(), "hello") {
				sent <- struct{}{}
				break
			}
			if err != nil {
				break
			}
		}
		rest, _ := io.ReadAll(br)
		all := got.String() + string(rest)
		return strings.HasPrefix(all, "HTTP/1.1 200 OK") && strings.HasSuffix(all, "\r\n\r\nok")
	}
	for _, path := range []string{"/after-head", "/mid-body", "/short-body"} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			failed := 0
			for range 20 {
				if !get(path) {
					failed++
				}
			}
			// Round robin alternates; the broken target fails twice, then
			// sits out its cool-down.
			if failed != 2 {
				t.Errorf("%d of 20 requests failed, want 2 (the broken target left out after 2 failures)", failed)
			}
		})
	}
}

// TestPassiveHealthIgnoresClientFaults: a request that fails through its
// client's fault (a malformed chunk, a client gone in the middle of its
// body) does not count against the target it was sent to: with
// max_failures 1, one such fault would take that target out, yet good
// requests after it keep reaching both targets.
func TestPassiveHealthIgnoresClientFaults(t *testing.T) {
	var hits [2]atomic.Int64
	upstreams := make([]string, 2)
	for i := range upstreams {
		upstreams[i] = startUpstream(t, func(ctx *fasthttp.RequestCtx) {
			if r := ctx.RequestBodyStream(); r != nil {
				_, _ = io.Copy(io.Discard, r)
			}
			if ctx.IsGet() { // the good requests, counted before they are answered
				hits[i].Add(1)
			}
			ctx.SetBodyString("ok")
		})
	}
	big := strings.Repeat("a", 70000) // over what is read before the handler runs
	for _, tt := range []struct {
		desc, head, body string
		halfClose        bool
		want             string
	}{
		{
			desc: "malformed chunk",
			head: "POST /r HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
			body: "11170\r\n" + big + "\r\nzz\r\n", want: "HTTP/1.1 400",
		},
		{
			desc: "client gone mid-body",
			head: "POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n",
			body: big, halfClose: true, want: "HTTP/1.1 499",
		},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			gw := startGateway(t, `
routes:
  - name: r
    match: { path: /r }
    upstream: { targets: ["{UP1}", "{UP2}"], retries: 0, passive_health: { max_failures: 1, cooldown: 1h } }
`, upstreams[0], upstreams[1])
			if got := sendFault(t, gw.addr, tt.head, tt.body, tt.halfClose); !strings.HasPrefix(got, tt.want) {
				t.Fatalf("fault: status %q, want %q", got, tt.want)
			}
			before := [2]int64{hits[0].Load(), hits[1].Load()}
			for i := range 10 {
				if resp := gw.do(t, "GET", "/r", nil, ""); resp.StatusCode() != 200 {
					t.Fatalf("good request %d: status %d", i, resp.StatusCode())
				}
			}
			for i := range hits {
				if n := hits[i].Load() - before[i]; n != 5 {
					t.Errorf("target %d got %d of 10 good requests, want 5: a client's fault took a target out", i+1, n)
				}
			}
		})
	}
}
