package httpx

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// BadFraming reports whether a request head that fasthttp accepted is
// still one the gateway refuses, because a server or proxy after it could
// read it differently (RFC 9112 sections 5.2 and 6.1):
//
//   - a header line folded onto the previous one (obs-fold);
//   - a space or tab inside a header name ("X Forwarded For",
//     "Transfer Encoding"): fasthttp refuses every other character that is
//     not a token's, and a server after the gateway could read the name
//     without its spaces;
//   - a chunked request whose head also carries Content-Length (fasthttp
//     gives Transfer-Encoding precedence and hides it);
//   - a Transfer-Encoding other than one field whose value is exactly
//     "chunked" (fasthttp trims the trailing whitespace of "chunked ").
//
// fasthttp itself refuses every other Transfer-Encoding, Transfer-Encoding
// on HTTP/1.0, and duplicate, signed, listed or overflowing Content-Length.
// It scans the raw head once and does not allocate.
func BadFraming(h *fasthttp.RequestHeader) bool {
	raw := h.RawHeaders()
	if len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
		return true
	}
	chunked := h.ContentLength() == -1
	te := 0
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
			if len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
				return true // obs-fold
			}
		} else {
			raw = nil
		}
		if spaceInName(line) {
			return true
		}
		if !chunked {
			continue
		}
		if hasFieldName(line, "content-length:") {
			return true
		}
		if hasFieldName(line, "transfer-encoding:") {
			te++
			v := bytes.TrimRight(line[len("transfer-encoding:"):], "\r")
			v = bytes.TrimLeft(v, " \t")
			if te > 1 || !bytes.EqualFold(v, []byte("chunked")) {
				return true
			}
		}
	}
	return false
}

// spaceInName reports whether the name of a raw header line holds a space
// or a tab.
func spaceInName(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return false
	}
	for _, c := range line[:i] {
		if c == ' ' || c == '\t' {
			return true
		}
	}
	return false
}

// hasFieldName reports whether a raw header line starts with name, which
// is lower case and ends with the colon.
func hasFieldName(line []byte, name string) bool {
	return len(line) >= len(name) && bytes.EqualFold(line[:len(name)], []byte(name))
}

// HeaderLines counts the header lines of a raw head, without the empty
// line that ends it.
func HeaderLines(raw []byte) int {
	n := bytes.Count(raw, []byte{'\n'})
	if bytes.HasSuffix(raw, []byte("\n\r\n")) || bytes.HasSuffix(raw, []byte("\n\n")) || bytes.Equal(raw, []byte("\r\n")) {
		n--
	}
	return n
}

// CheckVersion holds the version of the request line to HTTP/1.x, and
// reports false for any other (HTTP/2.0 sent as text, HTTP/0.9, HTTP/3.0),
// which is answered 505 (ErrVersionNotSupported) as nginx does. A later HTTP/1.x is read as
// HTTP/1.1, the highest minor version the gateway speaks (RFC 9110
// section 2.5). fasthttp has already refused a version that is not
// "HTTP/" digit "." digit.
func CheckVersion(h *fasthttp.RequestHeader) bool {
	if h.IsHTTP11() {
		return true
	}
	p := h.Protocol()
	switch {
	case len(p) != len("HTTP/1.1") || p[5] != '1':
		return false
	case p[7] != '0':
		h.SetProtocolBytes(http11)
	}
	return true
}

var (
	http10 = []byte("HTTP/1.0")
	http11 = []byte("HTTP/1.1")
)

// UpstreamHTTP11 makes the request line sent upstream say HTTP/1.1, the
// version the gateway speaks to upstreams whatever the client's, and
// reports whether the client's said HTTP/1.0 (the only other version
// CheckVersion lets through). RestoreHTTP10 puts it back once the
// upstream answered, for the access log and whatever reads the request
// after that (fasthttp decided the client's framing before the handler).
func UpstreamHTTP11(h *fasthttp.RequestHeader) bool {
	if h.IsHTTP11() {
		return false
	}
	h.SetProtocolBytes(http11)
	return true
}

// RestoreHTTP10 undoes UpstreamHTTP11 when was is true.
func RestoreHTTP10(h *fasthttp.RequestHeader, was bool) {
	if was {
		h.SetProtocolBytes(http10)
	}
}
