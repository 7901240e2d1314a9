package gateway

import (
	"strings"
	"testing"
)

// TestHardeningVersion: the upstream is always spoken to in HTTP/1.1,
// whatever version the client's request line says; a later HTTP/1.x is
// served as HTTP/1.1, and any other major version is refused with 505
// before anything reaches the upstream.
func TestHardeningVersion(t *testing.T) {
	up, gw := startWitnessed(t)
	tests := []struct {
		desc    string
		version string
		status  string // the client's status line
	}{
		{desc: "HTTP/1.1", version: "HTTP/1.1", status: "HTTP/1.1 200"},
		{desc: "HTTP/1.0", version: "HTTP/1.0", status: "HTTP/1.1 200"},
		{desc: "HTTP/1.2", version: "HTTP/1.2", status: "HTTP/1.1 200"},
		{desc: "HTTP/1.9", version: "HTTP/1.9", status: "HTTP/1.1 200"},
		{desc: "HTTP/2.0 as text", version: "HTTP/2.0", status: "HTTP/1.1 505"},
		{desc: "HTTP/3.0", version: "HTTP/3.0", status: "HTTP/1.1 505"},
		{desc: "HTTP/0.9", version: "HTTP/0.9", status: "HTTP/1.1 505"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			before := up.requests.Load()
			status, resp := gw.raw(t, "GET /x "+tt.version+"\r\nHost: a\r\nConnection: close\r\n\r\n")
			if !strings.HasPrefix(status, tt.status) {
				t.Fatalf("status line %q, want %s; answer:\n%s", status, tt.status, resp)
			}
			n := up.requests.Load() - before
			if tt.status != "HTTP/1.1 200" {
				if n != 0 {
					t.Errorf("refused request reached the upstream %d times", n)
				}
				if !strings.Contains(resp, "Connection: close") {
					t.Errorf("connection not closed:\n%s", resp)
				}
				return
			}
			if n != 1 {
				t.Fatalf("upstream saw %d requests, want 1", n)
			}
			if got := up.proto(); got != "HTTP/1.1" {
				t.Errorf("upstream request line says %q, want HTTP/1.1", got)
			}
		})
	}
}

// TestHardeningVersionClientSide: after its request went upstream as
// HTTP/1.1, an HTTP/1.0 client is still one for its answer (keep-alive
// confirmed with a Connection header) and for the access log.
func TestHardeningVersionClientSide(t *testing.T) {
	up := startWitness(t)
	var out syncBuffer
	gw := startLoggedGateway(t, &out, `
access_log: {}
routes:
  - name: any
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"] }
`, up.url)
	_, resp := gw.raw(t, "GET /x HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"+
		"GET /y HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	first, _, _ := strings.Cut(resp, "\r\n\r\n")
	if !strings.HasPrefix(first, "HTTP/1.1 200") || !strings.Contains(first, "\r\nConnection: keep-alive") {
		t.Errorf("answer to the HTTP/1.0 request, want 200 with Connection: keep-alive:\n%s", resp)
	}
	if got := up.proto(); got != "HTTP/1.1" {
		t.Errorf("upstream request line says %q, want HTTP/1.1", got)
	}
	lines := out.lines(t, 2)
	if lines[0]["proto"] != "HTTP/1.0" || lines[1]["proto"] != "HTTP/1.1" {
		t.Errorf("access log proto %v and %v, want HTTP/1.0 and HTTP/1.1", lines[0]["proto"], lines[1]["proto"])
	}
}
