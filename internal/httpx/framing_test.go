package httpx

import (
	"bufio"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// readHead parses a request head as the server does, and fails the test
// when fasthttp refuses it: BadFraming only sees heads fasthttp accepted.
func readHead(t *testing.T, raw string) *fasthttp.RequestHeader {
	t.Helper()
	var h fasthttp.RequestHeader
	if err := h.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("fasthttp refuses %q: %v", raw, err)
	}
	return &h
}

func TestBadFraming(t *testing.T) {
	const head = "POST /x HTTP/1.1\r\nHost: a\r\n"
	tests := []struct {
		desc string
		give string
		want bool
	}{
		{desc: "plain GET", give: "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", want: false},
		{desc: "Content-Length alone", give: head + "Content-Length: 5\r\n\r\n", want: false},
		{desc: "chunked alone", give: head + "Transfer-Encoding: chunked\r\n\r\n", want: false},
		{desc: "chunked, any case", give: head + "transfer-encoding: CHUNKED\r\n\r\n", want: false},
		{desc: "obs-fold with space", give: head + "X-A: b\r\n c\r\nContent-Length: 0\r\n\r\n", want: true},
		{desc: "obs-fold with tab", give: head + "X-A: b\r\n\tc\r\nContent-Length: 0\r\n\r\n", want: true},
		{desc: "space inside a header name", give: head + "X Forwarded For: 6.6.6.6\r\n\r\n", want: true},
		{desc: "space in a value is fine", give: head + "X-A: b c\r\n\r\n", want: false},
		{desc: "chunked and Content-Length", give: head + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", want: true},
		{desc: "Content-Length and chunked", give: head + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", want: true},
		{desc: "chunked with a trailing space", give: head + "Transfer-Encoding: chunked \r\n\r\n", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := BadFraming(readHead(t, tt.give)); got != tt.want {
				t.Errorf("BadFraming = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHeaderLines(t *testing.T) {
	tests := []struct {
		give string
		want int
	}{
		{give: "", want: 0},
		{give: "\r\n", want: 0},
		{give: "Host: a\r\n\r\n", want: 1},
		{give: "Host: a\r\nX-A: b\r\n\r\n", want: 2},
		{give: "Host: a\nX-A: b\n\n", want: 2},
	}
	for _, tt := range tests {
		if got := HeaderLines([]byte(tt.give)); got != tt.want {
			t.Errorf("HeaderLines(%q) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

func TestCheckVersion(t *testing.T) {
	tests := []struct {
		give      string
		wantOK    bool
		wantProto string // the request line's version after the check
	}{
		{give: "HTTP/1.1", wantOK: true, wantProto: "HTTP/1.1"},
		{give: "HTTP/1.0", wantOK: true, wantProto: "HTTP/1.0"},
		{give: "HTTP/1.9", wantOK: true, wantProto: "HTTP/1.1"},
		{give: "HTTP/2.0", wantOK: false},
		{give: "HTTP/0.9", wantOK: false},
		{give: "HTTP/3.0", wantOK: false},
	}
	for _, tt := range tests {
		h := readHead(t, "GET /x "+tt.give+"\r\nHost: a\r\n\r\n")
		ok := CheckVersion(h)
		if ok != tt.wantOK {
			t.Errorf("%s: CheckVersion = %v, want %v", tt.give, ok, tt.wantOK)
		}
		if got := string(h.Protocol()); ok && got != tt.wantProto {
			t.Errorf("%s: read as %s, want %s", tt.give, got, tt.wantProto)
		}
	}
}

func TestUpstreamHTTP11(t *testing.T) {
	h := readHead(t, "GET /x HTTP/1.0\r\nHost: a\r\n\r\n")
	was := UpstreamHTTP11(h)
	if !was || string(h.Protocol()) != "HTTP/1.1" {
		t.Fatalf("HTTP/1.0 request: UpstreamHTTP11 = %v, sent as %s; want true, HTTP/1.1", was, h.Protocol())
	}
	RestoreHTTP10(h, was)
	if string(h.Protocol()) != "HTTP/1.0" {
		t.Errorf("restored as %s, want HTTP/1.0", h.Protocol())
	}

	h = readHead(t, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
	was = UpstreamHTTP11(h)
	RestoreHTTP10(h, was)
	if was || string(h.Protocol()) != "HTTP/1.1" {
		t.Errorf("HTTP/1.1 request: UpstreamHTTP11 = %v, left as %s; want false, HTTP/1.1", was, h.Protocol())
	}
}
