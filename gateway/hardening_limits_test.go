package gateway

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestHardeningLimits: requests over a limit are refused with their
// status, without reaching the upstream.
func TestHardeningLimits(t *testing.T) {
	up := startWitness(t)
	gw := startGateway(t, `
server: { max_header_bytes: 4KiB, max_uri_length: 1KiB, max_header_count: 20 }
routes:
  - name: small
    match: { path_prefix: /small }
    max_body_size: 10
    upstream: { targets: ["{UP1}"] }
  - name: any
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"] }
`, up.url)
	headers := func(n int) string { return strings.Repeat("X-A: b\r\n", n) }
	tests := []struct {
		desc string
		give string
		want string
		// complete is how many complete requests the upstream may see:
		// a chunked body over the limit is cut off on its way, so the
		// upstream sees a request that never ends.
		complete int32
	}{
		{desc: "header count at the limit", give: "GET /x HTTP/1.1\r\nHost: a\r\n" + headers(18) + "Connection: close\r\n\r\n", want: "200", complete: 1},
		{desc: "header count over the limit", give: "GET /x HTTP/1.1\r\nHost: a\r\n" + headers(30) + "\r\n", want: "431"},
		{desc: "head over max_header_bytes", give: "GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\n\r\n", want: "431"},
		{desc: "URI over max_uri_length", give: "GET /" + strings.Repeat("a", 1100) + " HTTP/1.1\r\nHost: a\r\n\r\n", want: "414"},
		{desc: "URI at max_uri_length", give: "GET /" + strings.Repeat("a", 1023) + " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", want: "200", complete: 1},
		{desc: "declared body over the route limit", give: "POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n01234567890", want: "413"},
		{desc: "declared body over the limit, Expect: 100-continue", give: "POST /small HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n", want: "413"},
		{desc: "chunked body over the limit, mid-stream", give: "POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n012345\r\n0\r\n\r\n", want: "413"},
		{desc: "chunked body over the limit, Expect: 100-continue", give: "POST /small HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n012345\r\n0\r\n\r\n", want: "413"},
		{desc: "bad path under Expect: 100-continue", give: "POST /a%2Fb HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", want: "400"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			before := up.requests.Load()
			status, resp := gw.raw(t, tt.give)
			if strings.HasPrefix(status, "HTTP/1.1 100") {
				_, resp, _ = strings.Cut(resp, "\r\n\r\n")
				status, _, _ = strings.Cut(resp, "\r\n")
			}
			if !strings.HasPrefix(status, "HTTP/1.1 "+tt.want) {
				t.Fatalf("status line %q, want %s; answer:\n%.300s", status, tt.want, resp)
			}
			if tt.want != "200" && !strings.Contains(resp, "Connection: close") {
				t.Errorf("connection not closed:\n%.300s", resp)
			}
			if n := up.requests.Load() - before; n != tt.complete {
				t.Errorf("upstream answered %d requests, want %d", n, tt.complete)
			}
		})
	}
}

// TestHardeningSlowClient: a client that trickles its request head is
// closed at server.read_timeout, and no upstream connection is opened on
// its behalf.
func TestHardeningSlowClient(t *testing.T) {
	up := startWitness(t)
	gw := startGateway(t, `
server: { read_timeout: 300ms }
routes:
  - { name: any, match: { path_prefix: / }, upstream: { targets: ["{UP1}"] } }
`, up.url)
	c, err := net.DialTimeout("tcp", gw.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	closed := make(chan string, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		closed <- string(b)
	}()
	head := "GET /x HTTP/1.1\r\nHost: a\r\nX-Slow: "
	var answer string
trickle:
	for i := 0; i < 200; i++ { // at most 10 s
		select {
		case answer = <-closed:
			break trickle
		case <-time.After(50 * time.Millisecond):
		}
		b := []byte{'a'}
		if i < len(head) {
			b[0] = head[i]
		}
		if _, err := c.Write(b); err != nil {
			answer = <-closed
			break
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("slow client still connected after %v", took)
	}
	if answer != "" && !strings.HasPrefix(answer, "HTTP/1.1 408") {
		t.Errorf("slow client's answer %.100q, want 408 or none", answer)
	}
	if n := up.conns.Load(); n != 0 {
		t.Errorf("upstream accepted %d connections for a client that never finished its head", n)
	}
}

// TestHardeningConnLimits: server.max_conns_per_ip and server.concurrency
// turn away connections over them while the ones within keep working.
func TestHardeningConnLimits(t *testing.T) {
	tests := []struct {
		desc   string
		server string
		want   string
	}{
		{desc: "max_conns_per_ip", server: "max_conns_per_ip: 2", want: "429"},
		{desc: "concurrency", server: "concurrency: 2", want: "503"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			up := startWitness(t)
			gw := startGateway(t, `
server: { `+tt.server+` }
routes:
  - { name: any, match: { path_prefix: / }, upstream: { targets: ["{UP1}"] } }
`, up.url)
			// Two connections with a request begun hold both places.
			var held []net.Conn
			for i := 0; i < 2; i++ {
				c, err := net.DialTimeout("tcp", gw.addr, 2*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: a\r\n"); err != nil {
					t.Fatal(err)
				}
				held = append(held, c)
			}
			var status string
			for i := 0; i < 100; i++ { // the server may not have counted them yet
				status, _ = gw.raw(t, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
				if !strings.HasPrefix(status, "HTTP/1.1 200") {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.HasPrefix(status, "HTTP/1.1 "+tt.want) {
				t.Errorf("third connection: status line %q, want %s", status, tt.want)
			}
			if _, err := io.WriteString(held[0], "Connection: close\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			_ = held[0].SetReadDeadline(time.Now().Add(5 * time.Second))
			b, _ := io.ReadAll(held[0])
			if !strings.HasPrefix(string(b), "HTTP/1.1 200") {
				t.Errorf("a connection within the limit: %.100q, want 200", b)
			}
		})
	}
}
