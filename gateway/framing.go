package gateway

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// errVersionNotSupported answers a request line whose version is not
// HTTP/1.x.
var errVersionNotSupported = newAnswer(fasthttp.StatusHTTPVersionNotSupported, "http version not supported")

// errMethodNotAllowed answers TRACE on a route that does not list it
// (405, with allowedMethods in Allow).
var errMethodNotAllowed = newAnswer(fasthttp.StatusMethodNotAllowed, "method not allowed")

// allowedMethods is the Allow header of a 405: what a route that takes
// any method takes, TRACE and CONNECT aside.
const allowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

// withoutTrace refuses TRACE, which has the upstream echo the request,
// cookies and credentials included, back to whoever sent it (cross-site
// tracing). Routes that list TRACE in match.methods do without this step.
func withoutTrace(next handler) handler {
	return func(ctx *fasthttp.RequestCtx) error {
		if m := ctx.Method(); string(m) == fasthttp.MethodTrace {
			return errMethodNotAllowed
		}
		return next(ctx)
	}
}

// badFraming reports whether a request head that fasthttp accepted is
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
func badFraming(h *fasthttp.RequestHeader) bool {
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

// checkRequest holds a request fasthttp accepted to the gateway's own rules,
// before anything routes on it: its version (checkVersion, 505), the
// number of its header lines
// (server.max_header_count, 431), its framing (badFraming), the length of its
// target (server.max_uri_length, 414) and the path policy (checkTarget). An
// absolute-form target's host replaces the Host header, so that routing,
// the Host sent upstream, X-Forwarded-Host and logs all use that one value
// (RFC 9112 section 3.2.2). It returns the error the client gets, or nil.
// It may run twice for one request (Expect: 100-continue, then the
// handler); the second run finds nothing new to do.
func checkRequest(ctx *fasthttp.RequestCtx, snap *snapshot) error {
	h := &ctx.Request.Header
	if !checkVersion(h) {
		return errVersionNotSupported
	}
	if max := snap.cfg.Server.MaxHeaderCount; max > 0 && headerLines(h.RawHeaders()) > max {
		return errHeaderTooLarge
	}
	if badFraming(h) {
		return errBadRequest
	}
	target := h.RequestURI()
	if max := snap.cfg.Server.MaxURILength; max > 0 && int64(len(target)) > int64(max) {
		return errURITooLong
	}
	switch checkTarget(target) {
	case targetBad:
		return errBadRequest
	case targetAbsolute:
		h.SetHostBytes(ctx.URI().Host())
	}
	return nil
}

// headerLines counts the header lines of a raw head, without the empty
// line that ends it.
func headerLines(raw []byte) int {
	n := bytes.Count(raw, []byte{'\n'})
	if bytes.HasSuffix(raw, []byte("\n\r\n")) || bytes.HasSuffix(raw, []byte("\n\n")) || bytes.Equal(raw, []byte("\r\n")) {
		n--
	}
	return n
}

// checkVersion holds the version of the request line to HTTP/1.x, and
// reports false for any other (HTTP/2.0 sent as text, HTTP/0.9, HTTP/3.0),
// which is answered 505 as nginx does. A later HTTP/1.x is read as
// HTTP/1.1, the highest minor version the gateway speaks (RFC 9110
// section 2.5). fasthttp has already refused a version that is not
// "HTTP/" digit "." digit.
func checkVersion(h *fasthttp.RequestHeader) bool {
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

// upstreamHTTP11 makes the request line sent upstream say HTTP/1.1, the
// version the gateway speaks to upstreams whatever the client's, and
// reports whether the client's said HTTP/1.0 (the only other version
// checkVersion lets through). restoreHTTP10 puts it back once the
// upstream answered, for the access log and whatever reads the request
// after that (fasthttp decided the client's framing before the handler).
func upstreamHTTP11(h *fasthttp.RequestHeader) bool {
	if h.IsHTTP11() {
		return false
	}
	h.SetProtocolBytes(http11)
	return true
}

// restoreHTTP10 undoes upstreamHTTP11 when was is true.
func restoreHTTP10(h *fasthttp.RequestHeader, was bool) {
	if was {
		h.SetProtocolBytes(http10)
	}
}
