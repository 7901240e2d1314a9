package gateway

import (
	"strings"
	"testing"

	"github.com/fastgate/gateway/upstream"
)

// hopByHopLines returns a header line for each name of the one
// hop-by-hop list, in lower case, the Connection line listing X-Listed
// and close, and a header X-Listed and X-Kept.
func hopByHopLines() string {
	var b strings.Builder
	for _, name := range upstream.HopByHop() {
		v := "v"
		if name == "Connection" {
			v = "close, X-Listed"
		}
		b.WriteString(strings.ToLower(name) + ": " + v + "\r\n")
	}
	b.WriteString("X-Listed: 1\r\nX-Kept: k\r\n")
	return b.String()
}

// absentHeaders reports each line of head whose name is hop-by-hop or
// X-Listed. head is a message head, "Name: value" per CRLF-ended line.
func absentHeaders(t *testing.T, direction, head string) {
	t.Helper()
	names := upstream.HopByHop()
	banned := append(names[:], "X-Listed")
	kept := false
	for _, line := range strings.Split(head, "\r\n") {
		name, _, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kept = kept || strings.EqualFold(name, "X-Kept")
		for _, b := range banned {
			if strings.EqualFold(name, b) && !(direction == "response" && strings.EqualFold(line, "Connection: close")) {
				t.Errorf("%s: %q passed on", direction, line)
			}
		}
	}
	if !kept {
		t.Errorf("%s: X-Kept lost:\n%s", direction, head)
	}
}

// TestHopByHopOneList: every name of upstream.HopByHop, in any case, and
// every name Connection lists, is removed from the request on its way up
// and from the response on its way back.
func TestHopByHopOneList(t *testing.T) {
	t.Run("request", func(t *testing.T) {
		w := startWitness(t)
		gw := startGateway(t, `
routes:
  - { name: any, match: { path_prefix: / }, upstream: { targets: ["{UP1}"], retries: 0 } }
`, w.url)
		if status, resp := gw.raw(t, "GET /x HTTP/1.1\r\nHost: a\r\n"+hopByHopLines()+"\r\n"); status != "HTTP/1.1 200 OK" {
			t.Fatalf("status %q:\n%s", status, resp)
		}
		_, head, _ := w.last()
		absentHeaders(t, "request", head)
	})
	t.Run("response", func(t *testing.T) {
		up := rawUpstream(t, answerWith("HTTP/1.1 200 OK\r\n"+hopByHopLines()+"Content-Length: 2\r\n\r\nok"))
		gw := startGateway(t, `
routes:
  - { name: any, match: { path_prefix: / }, upstream: { targets: ["{UP1}"], retries: 0 } }
`, up)
		status, resp := gw.raw(t, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		if status != "HTTP/1.1 200 OK" {
			t.Fatalf("status %q:\n%s", status, resp)
		}
		head, _, _ := strings.Cut(resp, "\r\n\r\n")
		absentHeaders(t, "response", head)
	})
}
