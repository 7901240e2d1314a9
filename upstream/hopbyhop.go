package upstream

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// hopByHop are the headers that describe one connection and are never
// forwarded, in either direction: those of RFC 9110 section 7.6.1, the
// legacy Proxy-Connection, and HTTP2-Settings, which belongs to an h2c
// upgrade (RFC 7540 section 3.2.1) that a proxy never passes on. The
// headers a message's Connection headers name are hop-by-hop too; that
// list comes with each message. Transfer-Encoding and Content-Length are
// framing, which the writer of each message sets itself.
var hopByHop = [...]string{
	fasthttp.HeaderConnection, "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "TE", "Trailer", "Upgrade", "HTTP2-Settings",
}

// hopByHopLens has bit n set when a name in hopByHop is n bytes long, so
// that most header names are turned down by one test.
var hopByHopLens = func() (m uint64) {
	for _, name := range hopByHop {
		m |= 1 << len(name)
	}
	return m
}()

// HopByHop returns the hop-by-hop header names, Connection first. It is
// the one list for requests and responses alike.
func HopByHop() [len(hopByHop)]string { return hopByHop }

// IsHopByHop reports whether the header name, in any case, is one of
// HopByHop.
func IsHopByHop(name []byte) bool {
	if len(name) >= 64 || hopByHopLens&(1<<len(name)) == 0 {
		return false
	}
	for _, h := range hopByHop {
		if len(name) == len(h) && bytes.EqualFold(name, []byte(h)) {
			return true
		}
	}
	return false
}
