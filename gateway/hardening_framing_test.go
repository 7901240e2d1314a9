package gateway

import (
	"strings"
	"testing"
)

// TestHardeningFraming sends requests whose framing is ambiguous or
// malformed, as raw bytes, to a real gateway in front of a real upstream:
// each is answered 400 with the connection closed, and none reaches the
// upstream.
func TestHardeningFraming(t *testing.T) {
	up, gw := startWitnessed(t)
	const head = "POST /x HTTP/1.1\r\nHost: a\r\n"
	tests := []struct {
		desc string
		give string
	}{
		{desc: "Content-Length and Transfer-Encoding", give: head + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{desc: "Transfer-Encoding and Content-Length", give: head + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
		{desc: "two equal Content-Length", give: head + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
		{desc: "two different Content-Length", give: head + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
		{desc: "Content-Length list", give: head + "Content-Length: 5, 5\r\n\r\nhello"},
		{desc: "Content-Length +5", give: head + "Content-Length: +5\r\n\r\nhello"},
		{desc: "Content-Length -5", give: head + "Content-Length: -5\r\n\r\nhello"},
		{desc: "Content-Length overflowing", give: head + "Content-Length: 184467440737095516160\r\n\r\nhello"},
		{desc: "Content-Length hex", give: head + "Content-Length: 0x5\r\n\r\nhello"},
		{desc: "Content-Length empty", give: head + "Content-Length: \r\n\r\nhello"},
		{desc: "Transfer-Encoding gzip", give: head + "Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n"},
		{desc: "Transfer-Encoding gzip, chunked", give: head + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
		{desc: "Transfer-Encoding chunked, chunked", give: head + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
		{desc: "Transfer-Encoding twice", give: head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{desc: "Transfer-Encoding xchunked", give: head + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"},
		{desc: "Transfer-Encoding chunkedx", give: head + "Transfer-Encoding: chunkedx\r\n\r\n0\r\n\r\n"},
		{desc: "Transfer-Encoding chunked space", give: head + "Transfer-Encoding: chunked \r\n\r\n0\r\n\r\n"},
		{desc: "Transfer-Encoding chunked tab", give: head + "Transfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n"},
		{desc: "Transfer-Encoding chunked vertical tab", give: head + "Transfer-Encoding: \vchunked\r\n\r\n0\r\n\r\n"},
		{desc: "Transfer-Encoding empty", give: head + "Transfer-Encoding: \r\n\r\n0\r\n\r\n"},
		{desc: "Transfer-Encoding on HTTP/1.0", give: "POST /x HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{desc: "chunk size not hex", give: head + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
		{desc: "chunk size overflowing", give: head + "Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n"},
		{desc: "chunk size negative", give: head + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"},
		{desc: "chunk size with 0x", give: head + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"},
		{desc: "chunk size empty", give: head + "Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n"},
		{desc: "chunk data longer than its size", give: head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n"},
		{desc: "chunk data without CRLF", give: head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\n"},
		{desc: "chunk terminated by LF only", give: head + "Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n"},
		{desc: "oversized chunk extension", give: head + "Transfer-Encoding: chunked\r\n\r\n5;ext=" + strings.Repeat("x", 20<<10) + "\r\nhello\r\n0\r\n\r\n"},
		{desc: "chunk size line with bare CR", give: head + "Transfer-Encoding: chunked\r\n\r\n5\rhello\r\n0\r\n\r\n"},
		{desc: "obs-fold with space", give: head + "X-A: b\r\n c\r\nContent-Length: 0\r\n\r\n"},
		{desc: "obs-fold with tab", give: head + "X-A: b\r\n\tc\r\nContent-Length: 0\r\n\r\n"},
		{desc: "space before the first header", give: "POST /x HTTP/1.1\r\n Host: a\r\nContent-Length: 0\r\n\r\n"},
		{desc: "space before colon", give: head + "Content-Length : 5\r\n\r\nhello"},
		{desc: "tab before colon", give: head + "X-A\t: b\r\nContent-Length: 0\r\n\r\n"},
		{desc: "CR in a header value", give: head + "X-A: b\rc\r\nContent-Length: 0\r\n\r\n"},
		{desc: "NUL in a header value", give: head + "X-A: b\x00c\r\nContent-Length: 0\r\n\r\n"},
		{desc: "CR in a header name", give: head + "X-\rA: b\r\nContent-Length: 0\r\n\r\n"},
		{desc: "LF in a header name", give: head + "X-\nA: b\r\nContent-Length: 0\r\n\r\n"},
		{desc: "NUL in a header name", give: head + "X-\x00A: b\r\nContent-Length: 0\r\n\r\n"},
		{desc: "space inside a header name", give: head + "X Forwarded For: 6.6.6.6\r\nContent-Length: 0\r\n\r\n"},
		{desc: "space inside Transfer-Encoding's name", give: head + "Transfer Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello"},
		{desc: "tab inside a header name", give: head + "X-A\tB: c\r\nContent-Length: 0\r\n\r\n"},
		{desc: "no colon", give: head + "X-A b\r\nContent-Length: 0\r\n\r\n"},
		{desc: "empty header name", give: head + ": b\r\nContent-Length: 0\r\n\r\n"},
		{desc: "two Host headers", give: "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
		{desc: "no Host on HTTP/1.1", give: "GET /x HTTP/1.1\r\n\r\n"},
		{desc: "bad Host", give: "GET /x HTTP/1.1\r\nHost: a/b\r\n\r\n"},
		{desc: "HTTP/2 preface", give: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
		{desc: "CTL in the request target", give: "GET /x\x01y HTTP/1.1\r\nHost: a\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			before := up.requests.Load()
			status, resp := gw.raw(t, tt.give)
			if !strings.HasPrefix(status, "HTTP/1.1 400") {
				t.Errorf("status line %q, want 400; answer:\n%s", status, resp)
			}
			if !strings.Contains(resp, "Connection: close") {
				t.Errorf("connection not closed:\n%s", resp)
			}
			if n := up.requests.Load() - before; n != 0 {
				t.Errorf("refused request reached the upstream %d times", n)
			}
		})
	}
}

// TestHardeningForwardedFraming: what a valid but unusual request becomes
// on its way upstream. Trailers are dropped, an h2c upgrade is never passed
// on, and a chunked body is sent with the gateway's own framing.
func TestHardeningForwardedFraming(t *testing.T) {
	up, gw := startWitnessed(t)
	tests := []struct {
		desc     string
		give     string
		wantBody string
		absent   []string // header names the upstream must not see
	}{
		{
			desc:     "request trailers dropped",
			give:     "POST /x HTTP/1.1\r\nHost: a\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\nX-T: v\r\nX-Other: w\r\n\r\n",
			wantBody: "hello",
			absent:   []string{"X-T", "X-Other", "Trailer"},
		},
		{
			desc:   "h2c upgrade not forwarded",
			give:   "GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
			absent: []string{"Upgrade", "HTTP2-Settings", "Connection"},
		},
		{
			desc:   "HTTP2-Settings not named in Connection",
			give:   "GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: close\r\n\r\n",
			absent: []string{"Upgrade", "HTTP2-Settings"},
		},
		{
			desc:     "chunk extension not forwarded",
			give:     "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=" + strings.Repeat("x", 100) + "\r\nhello\r\n0\r\n\r\n",
			wantBody: "hello",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			before := up.requests.Load()
			status, resp := gw.raw(t, tt.give)
			if !strings.HasPrefix(status, "HTTP/1.1 200") {
				t.Fatalf("status line %q, want 200; answer:\n%s", status, resp)
			}
			if n := up.requests.Load() - before; n != 1 {
				t.Fatalf("upstream saw %d requests, want 1", n)
			}
			_, head, body := up.last()
			if body != tt.wantBody {
				t.Errorf("upstream body %q, want %q", body, tt.wantBody)
			}
			for _, name := range tt.absent {
				if hasHeaderLine(head, name) {
					t.Errorf("upstream received %s:\n%s", name, head)
				}
			}
		})
	}
}

// hasHeaderLine reports whether head, as "Name: value\r\n" lines, holds
// a header called name (case-insensitive).
func hasHeaderLine(head, name string) bool {
	for _, line := range strings.Split(head, "\r\n") {
		if k, _, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}
