package httpx

import (
	"bufio"
	"regexp"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestRequestIDLayout: a generated request id has the UUID version 4
// layout (8-4-4-4-12 lower-case hex digits, version 4, variant 10) and
// does not repeat.
func TestRequestIDLayout(t *testing.T) {
	layout := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := make(map[string]bool)
	for range 1000 {
		id := string(AppendRequestID([]byte("prefix:")))
		id, ok := strings.CutPrefix(id, "prefix:")
		if !ok || !layout.MatchString(id) {
			t.Fatalf("request id %q: not appended in the UUID v4 layout", id)
		}
		if seen[id] {
			t.Fatalf("request id %q generated twice", id)
		}
		seen[id] = true
	}
}

func TestClassifyHeader(t *testing.T) {
	tests := []struct {
		give string
		want HeaderFlags
	}{
		{give: "Connection", want: FlagHopByHop},
		{give: "keep-alive", want: FlagHopByHop},
		{give: "UPGRADE", want: FlagHopByHop},
		{give: "Forwarded", want: FlagForwarded},
		{give: "x-forwarded-for", want: FlagXForwardedFor},
		{give: "X-Forwarded-Proto", want: FlagXForwardedProto},
		{give: "X-Forwarded-Host", want: FlagXForwardedHost},
		{give: "X-Request-ID", want: FlagRequestID},
		{give: "X-Real-Ip", want: FlagXRealIP},
		{give: "true-client-ip", want: FlagTrueClientIP},
		{give: "Host", want: 0},
		{give: "X-Forwarded-Fox", want: 0},
		{give: "Content-Length", want: 0},
		{give: "", want: 0},
	}
	for _, tt := range tests {
		if got := ClassifyHeader([]byte(tt.give)); got != tt.want {
			t.Errorf("ClassifyHeader(%q) = %b, want %b", tt.give, got, tt.want)
		}
	}
}

func TestScanRequestHeaders(t *testing.T) {
	tests := []struct {
		desc string
		give string // header lines after Host
		want HeaderFlags
	}{
		{desc: "none", give: "User-Agent: x\r\n", want: 0},
		{desc: "one request id", give: "X-Request-Id: a\r\n", want: FlagRequestID},
		{desc: "two request id lines", give: "X-Request-Id: a\r\nx-request-id: b\r\n", want: FlagRequestID | FlagRequestIDs},
		{desc: "Connection: close", give: "Connection: close\r\n", want: FlagHopByHop},
		{desc: "forwarded headers", give: "X-Forwarded-For: 1.2.3.4\r\nForwarded: for=1.2.3.4\r\n", want: FlagXForwardedFor | FlagForwarded},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			h := readHead(t, "GET /x HTTP/1.1\r\nHost: a\r\n"+tt.give+"\r\n")
			if got := ScanRequestHeaders(h); got != tt.want {
				t.Errorf("flags %b, want %b", got, tt.want)
			}
		})
	}
}

// TestStripHopByHop: every hop-by-hop header, and every header a
// Connection line names, goes in both directions; Host and the framing
// headers stay even when Connection names them.
func TestStripHopByHop(t *testing.T) {
	const lines = "Connection: keep-alive, X-Named, Host, Content-Length\r\nConnection: X-Second\r\n" +
		"Keep-Alive: 5\r\nUpgrade: h2c\r\nTE: trailers\r\nProxy-Connection: x\r\n" +
		"X-Named: 1\r\nX-Second: 2\r\nX-Kept: k\r\nContent-Length: 0\r\n"
	gone := []string{"Connection", "Keep-Alive", "Upgrade", "TE", "Proxy-Connection", "X-Named", "X-Second"}
	kept := []string{"X-Kept", "Content-Length"}

	t.Run("request", func(t *testing.T) {
		h := readHead(t, "GET /x HTTP/1.1\r\nHost: a\r\n"+lines+"\r\n")
		StripRequestHopByHop(h)
		for _, name := range gone {
			if v := h.Peek(name); v != nil {
				t.Errorf("%s: %q left", name, v)
			}
		}
		for _, name := range append(kept, "Host") {
			if h.Peek(name) == nil {
				t.Errorf("%s removed", name)
			}
		}
	})
	t.Run("response", func(t *testing.T) {
		var h fasthttp.ResponseHeader
		if err := h.Read(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\n" + lines + "\r\n"))); err != nil {
			t.Fatal(err)
		}
		StripResponseHopByHop(&h)
		for _, name := range gone {
			if v := h.Peek(name); v != nil && name != "Connection" {
				t.Errorf("%s: %q left", name, v)
			}
		}
		if h.ConnectionClose() {
			t.Error("Connection: close set")
		}
		for _, name := range kept {
			if h.Peek(name) == nil {
				t.Errorf("%s removed", name)
			}
		}
	})
}
