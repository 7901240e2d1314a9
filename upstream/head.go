package upstream

import (
	"bytes"
	"errors"

	"github.com/valyala/fasthttp"
)

// errNoResponse: the connection was closed or reset before any byte of the
// response arrived. Do turns it into a retry or ErrReset.
var errNoResponse = errors.New("upstream: no response")

// maxInterim bounds the 1xx responses skipped before the final one.
const maxInterim = 16

var (
	strContentLength    = []byte("content-length")
	strTransferEncoding = []byte("transfer-encoding")
)

// readHead reads the final response head into resp, skipping 1xx interim
// responses. It returns errNoResponse, ErrReset, ErrTimeout or ErrProtocol.
func (pc *conn) readHead(resp *fasthttp.Response) error {
	for i := 0; ; i++ {
		if err := pc.waitHead(i == 0); err != nil {
			return err
		}
		// The whole head is buffered; fasthttp parses it without I/O.
		pc.noIO = true
		err := resp.Header.Read(pc.br)
		pc.noIO = false
		if err != nil {
			return ErrProtocol
		}
		code := resp.Header.StatusCode()
		switch {
		case code >= 200 && code <= 599:
			return nil
		case code < 100 || code > 599 || code == fasthttp.StatusSwitchingProtocols || i >= maxInterim:
			return ErrProtocol
		}
	}
}

// waitHead reads until pc.br holds a complete response head, which must
// end with CRLF CRLF, and checks its framing headers. Empty lines before the
// status line are dropped.
func (pc *conn) waitHead(first bool) error {
	br := pc.br
	got := !first // whether any byte of the response has arrived
	from := 0     // where the search for the blank line resumes
	for {
		if n := br.Buffered(); n > 0 {
			got = true
			b, _ := br.Peek(n)
			if b[0] == '\r' || b[0] == '\n' {
				if len(b) < 2 {
					goto more
				}
				if b[0] != '\r' || b[1] != '\n' {
					return ErrProtocol
				}
				_, _ = br.Discard(2)
				from = 0
				continue
			}
			end, bad := headEnd(b, from)
			if bad {
				return ErrProtocol
			}
			if end > 0 {
				if !framingOK(b[:end]) {
					return ErrProtocol
				}
				return nil
			}
			from = max(len(b)-3, 0)
		}
	more:
		if br.Buffered() == br.Size() {
			return ErrProtocol // head larger than MaxResponseHeaderBytes
		}
		before := br.Buffered()
		_, err := br.Peek(before + 1)
		if err != nil && br.Buffered() == before {
			switch {
			case isTimeout(err):
				return ErrTimeout
			case !got:
				return errNoResponse
			default:
				return ErrReset
			}
		}
	}
}

// headEnd returns the length of the head in b, ending at the first blank
// line, or 0 if b does not hold one yet. Searching starts at from. A blank
// line that is not CRLF after a CRLF-terminated line is reported as bad.
func headEnd(b []byte, from int) (end int, bad bool) {
	for i := from; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0, false
		}
		j += i
		switch {
		case j+1 >= len(b):
			return 0, false
		case b[j+1] == '\n':
			return 0, true
		case b[j+1] == '\r':
			if j+2 >= len(b) {
				return 0, false
			}
			if b[j+2] == '\n' {
				if j == 0 || b[j-1] != '\r' {
					return 0, true
				}
				return j + 3, false
			}
		}
		i = j + 1
	}
}

// framingOK reports whether head (status line, header lines, blank line)
// frames its body at most once: not Content-Length together with
// Transfer-Encoding, not Content-Length twice. fasthttp would quietly pick
// one of them; a proxy must not (request smuggling, RFC 9112 6.3). It runs
// on every response, so it looks closer only at lines that start like one
// of the two names.
func framingOK(head []byte) bool {
	var cl, te int
	i := bytes.IndexByte(head, '\n') + 1 // skip the status line
	for i < len(head) {
		j := bytes.IndexByte(head[i:], '\n')
		line := head[i : i+j]
		i += j + 1
		if len(line) == 0 {
			continue
		}
		switch line[0] | 0x20 {
		case 'c':
			if isHeaderLine(line, strContentLength) {
				cl++
			}
		case 't':
			if isHeaderLine(line, strTransferEncoding) {
				te++
			}
		}
	}
	return cl <= 1 && (cl == 0 || te == 0)
}

// isHeaderLine reports whether line is a field of the given name, in any
// case: the name, blanks if any, then a colon.
func isHeaderLine(line, name []byte) bool {
	if len(line) <= len(name) || !bytes.EqualFold(line[:len(name)], name) {
		return false
	}
	for _, c := range line[len(name):] {
		switch c {
		case ' ', '\t':
		case ':':
			return true
		default:
			return false
		}
	}
	return false
}
