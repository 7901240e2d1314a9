package upstream

import "testing"

// TestFramingOK checks the framing rule on response heads: one
// Content-Length, or one or more Transfer-Encoding lines, never both,
// whatever the case of the names and blanks before the colon; names that
// only start like them are other fields.
func TestFramingOK(t *testing.T) {
	t.Parallel()
	const status = "HTTP/1.1 200 OK\r\n"
	for _, tt := range []struct {
		head string
		want bool
	}{
		{"Content-Length: 5\r\n", true},
		{"Transfer-Encoding: chunked\r\n", true},
		{"Content-Type: text/plain\r\nContent-Length: 5\r\nX-A: b\r\n", true},
		{"Content-Length: 5\r\nContent-Length: 5\r\n", false},
		{"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", false},
		{"transfer-encoding: chunked\r\nCONTENT-LENGTH: 5\r\n", false},
		{"Transfer-Encoding: chunked\r\nContent-length \t: 5\r\n", false},
		{"Content-Lengths: 5\r\nTransfer-Encoding: chunked\r\n", true},
		{"Content-Length-X: 5\r\nContent-Length: 5\r\n", true},
		{"Transfer-Encoding: chunked\r\nX-Content-Length: 5\r\n", true},
		{"Transfer-Encoding: chunked\r\nContent-Length\r\n", true}, // no colon: not a field fasthttp takes
	} {
		if got := framingOK([]byte(status + tt.head + "\r\n")); got != tt.want {
			t.Errorf("framingOK(%q) = %v, want %v", tt.head, got, tt.want)
		}
	}
}

// BenchmarkFramingOK measures the framing check on a typical response
// head, which every response pays for.
func BenchmarkFramingOK(b *testing.B) {
	head := []byte("HTTP/1.1 200 OK\r\nServer: demo-upstream\r\nDate: Mon, 07 Dec 2026 17:15:41 GMT\r\n" +
		"Content-Type: application/octet-stream\r\nContent-Length: 13\r\nX-Instance: 127.0.0.1:19001\r\n\r\n")
	b.ReportAllocs()
	for b.Loop() {
		if !framingOK(head) {
			b.Fatal("refused")
		}
	}
}
