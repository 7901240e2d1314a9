package gateway

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestHardeningRequestHeaders sends raw requests whose headers try to
// forge or strip what the upstream relies on, and checks the request the
// upstream received.
func TestHardeningRequestHeaders(t *testing.T) {
	up, gw := startWitnessed(t)
	tests := []struct {
		desc     string
		give     string // header lines after "GET /x HTTP/1.1\r\n"
		want     []string
		absent   []string
		wantURI  string
		wantBody string
	}{
		{
			desc: "hop-by-hop and Connection-listed headers, on several Connection lines",
			give: "Host: a\r\nConnection: X-One, x-two\r\nConnection: close,X-Three\r\nX-One: 1\r\nX-Two: 2\r\nX-Three: 3\r\n" +
				"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\nTE: trailers\r\nUpgrade: websocket\r\nX-Kept: k\r\n",
			want:   []string{"X-Kept: k", "Host: a"},
			absent: []string{"Connection", "X-One", "X-Two", "X-Three", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Te", "Upgrade"},
		},
		{
			desc:   "forwarded headers from an untrusted peer replaced, each only once",
			give:   "Host: a\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 7.7.7.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Proto: ftp\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Host: evil2\r\nForwarded: for=6.6.6.6;host=evil\r\nForwarded: for=7.7.7.7\r\n",
			want:   []string{"X-Forwarded-For: 127.0.0.1", "X-Forwarded-Proto: http", "X-Forwarded-Host: a"},
			absent: []string{"Forwarded"},
		},
		{
			desc:   "X-Real-IP and True-Client-IP from an untrusted peer: replaced and removed",
			give:   "Host: a\r\nX-Real-IP: 6.6.6.6\r\nx-real-ip: 7.7.7.7\r\nTrue-Client-IP: 6.6.6.6\r\n",
			want:   []string{"X-Real-Ip: 127.0.0.1", "X-Forwarded-For: 127.0.0.1"},
			absent: []string{"True-Client-IP"},
		},
		{
			desc: "X-Real-IP set when the client sent none",
			give: "Host: a\r\n",
			want: []string{"X-Real-Ip: 127.0.0.1"},
		},
		{
			desc:   "forwarded headers named in Connection are still the gateway's own",
			give:   "Host: a\r\nConnection: X-Forwarded-For, X-Request-Id\r\nX-Forwarded-For: 6.6.6.6\r\n",
			want:   []string{"X-Forwarded-For: 127.0.0.1", "X-Forwarded-Host: a"},
			absent: []string{"Connection"},
		},
		{
			desc: "Host named in Connection is kept",
			give: "Host: a\r\nConnection: Host\r\n",
			want: []string{"Host: a", "X-Forwarded-Host: a"},
		},
		{
			desc:     "Content-Length named in Connection does not unframe the body",
			give:     "Host: a\r\nConnection: Content-Length\r\nContent-Length: 5\r\n",
			wantBody: "hello",
			want:     []string{"Content-Length: 5"},
		},
		{
			desc:    "absolute-form target wins over the Host header",
			give:    "Host: other.example\r\n",
			wantURI: "http://abs.example/x",
			want:    []string{"Host: abs.example", "X-Forwarded-Host: abs.example"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			target := "/x"
			if tt.wantURI != "" {
				target = tt.wantURI
			}
			method, body := "GET", ""
			if tt.wantBody != "" {
				method, body = "POST", tt.wantBody
			}
			before := up.requests.Load()
			status, resp := gw.raw(t, method+" "+target+" HTTP/1.1\r\n"+tt.give+"Connection: close\r\n\r\n"+body)
			if !strings.HasPrefix(status, "HTTP/1.1 200") {
				t.Fatalf("status line %q, want 200; answer:\n%s", status, resp)
			}
			if n := up.requests.Load() - before; n != 1 {
				t.Fatalf("upstream saw %d requests, want 1", n)
			}
			uri, head, gotBody := up.last()
			if uri != "/x" {
				t.Errorf("upstream request URI %q, want /x", uri)
			}
			if gotBody != tt.wantBody {
				t.Errorf("upstream body %q, want %q", gotBody, tt.wantBody)
			}
			lines := strings.Split(head, "\r\n")
			for _, w := range tt.want {
				name, _, _ := strings.Cut(w, ":")
				n := 0
				for _, l := range lines {
					if k, _, _ := strings.Cut(l, ":"); strings.EqualFold(k, name) {
						n++
						if l != w {
							t.Errorf("upstream received %q, want %q", l, w)
						}
					}
				}
				if n != 1 {
					t.Errorf("upstream received %s %d times, want once:\n%s", name, n, head)
				}
			}
			for _, name := range tt.absent {
				for _, l := range lines {
					if k, _, _ := strings.Cut(l, ":"); strings.EqualFold(k, name) || l == name {
						t.Errorf("upstream received %q:\n%s", l, head)
					}
				}
			}
		})
	}
}

// TestHardeningRealIPTrusted: from a peer in trusted_proxies, X-Real-IP
// and True-Client-IP are kept as sent, and an absent X-Real-IP is the
// client address X-Forwarded-For yields.
func TestHardeningRealIPTrusted(t *testing.T) {
	up := startWitness(t)
	gw := startGateway(t, `
trusted_proxies: [127.0.0.1, 10.0.0.0/8]
routes:
  - name: any
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"] }
`, up.url)
	tests := []struct {
		desc string
		give string
		want []string
	}{
		{
			desc: "both kept",
			give: "X-Real-IP: 198.51.100.7\r\nTrue-Client-IP: 198.51.100.8\r\n",
			want: []string{"X-Real-Ip: 198.51.100.7", "True-Client-Ip: 198.51.100.8"},
		},
		{
			desc: "X-Real-IP from X-Forwarded-For",
			give: "X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.1.1.1\r\n",
			want: []string{"X-Real-Ip: 198.51.100.7", "X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.1.1.1, 127.0.0.1"},
		},
		{
			desc: "X-Real-IP the peer's without X-Forwarded-For",
			give: "",
			want: []string{"X-Real-Ip: 127.0.0.1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			status, resp := gw.raw(t, "GET /x HTTP/1.1\r\nHost: a\r\n"+tt.give+"Connection: close\r\n\r\n")
			if !strings.HasPrefix(status, "HTTP/1.1 200") {
				t.Fatalf("status line %q, want 200; answer:\n%s", status, resp)
			}
			_, head, _ := up.last()
			lines := strings.Split(head, "\r\n")
			for _, w := range tt.want {
				name, _, _ := strings.Cut(w, ":")
				var got []string
				for _, l := range lines {
					if k, _, _ := strings.Cut(l, ":"); strings.EqualFold(k, name) {
						got = append(got, l)
					}
				}
				if len(got) != 1 || got[0] != w {
					t.Errorf("upstream received %q, want %q once:\n%s", got, w, head)
				}
			}
		})
	}
}

// answerWith returns a rawUpstream handler that reads one request head
// and writes answer verbatim.
func answerWith(answer string) func(net.Conn) {
	return func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		for { // the request head, up to the empty line
			line, err := r.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		_, _ = io.WriteString(c, answer)
	}
}

// TestHardeningResponseHeaders: what an upstream's answer carries that
// describes its own connection never reaches the client, and nothing the
// upstream wrote can break the client's response head.
func TestHardeningResponseHeaders(t *testing.T) {
	tests := []struct {
		desc   string
		give   string // the upstream's head lines after the status line
		status string // the status line the client gets
		absent []string
		want   []string
	}{
		{
			desc:   "hop-by-hop and Connection-listed headers removed",
			give:   "Connection: X-Hop, x-hop2\r\nX-Hop: 1\r\nX-Hop2: 2\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nTE: trailers\r\nTrailer: X-T\r\nX-Kept: k\r\n",
			status: "HTTP/1.1 200",
			absent: []string{"X-Hop", "X-Hop2", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection", "Upgrade", "Te", "Trailer"},
			want:   []string{"X-Kept: k"},
		},
		{
			// RFC 9112 section 5.2 lets a proxy replace the fold by spaces.
			desc:   "obs-fold in the upstream's answer",
			give:   "X-A: b\r\n c\r\n",
			status: "HTTP/1.1 200",
			want:   []string{"X-A: b c"},
		},
		{
			desc:   "NUL in an upstream header value",
			give:   "X-A: b\x00c\r\n",
			status: "HTTP/1.1 502",
		},
		{
			desc:   "bare CR in an upstream header value",
			give:   "X-A: b\rSet-Cookie: x=1\r\n",
			status: "HTTP/1.1 502",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			up := rawUpstream(t, answerWith("HTTP/1.1 200 OK\r\n"+tt.give+"Content-Length: 2\r\nConnection: close\r\n\r\nok"))
			gw := startGateway(t, `
routes:
  - name: any
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"], retries: 0 }
`, up)
			status, resp := gw.raw(t, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
			if !strings.HasPrefix(status, tt.status) {
				t.Fatalf("status line %q, want %s; answer:\n%q", status, tt.status, resp)
			}
			head, _, _ := strings.Cut(resp, "\r\n\r\n")
			if strings.ContainsAny(head, "\x00") || strings.Contains(strings.ReplaceAll(head, "\r\n", ""), "\r") ||
				strings.Contains(strings.ReplaceAll(head, "\r\n", ""), "\n") {
				t.Errorf("client's response head carries CR, LF or NUL: %q", head)
			}
			lines := strings.Split(head, "\r\n")
			for _, name := range tt.absent {
				for _, l := range lines[1:] {
					if k, _, _ := strings.Cut(l, ":"); strings.EqualFold(k, name) {
						t.Errorf("client received %q", l)
					}
				}
			}
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || l == w
				}
				if !found {
					t.Errorf("client's answer lacks %q:\n%s", w, head)
				}
			}
		})
	}
}
