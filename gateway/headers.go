package gateway

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/valyala/fasthttp"
)

// hopByHop are the headers of RFC 9110 section 7.6.1 that describe one
// connection and must not be forwarded, plus the legacy Proxy-Connection.
// Transfer-Encoding and Content-Length are framing that fasthttp rewrites
// itself when it writes the message.
var hopByHop = [...]string{
	"Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
	"TE", "Trailer", "Upgrade",
}

// maxConnectionTokens bounds the names taken from one Connection header.
const maxConnectionTokens = 16

// connectionTokens copies the header names listed in a Connection header
// into dst (a caller-owned array, to stay off the heap) and returns how many
// there are. "close" and "keep-alive" are options, not header names, but
// deleting a header of that name is harmless.
func connectionTokens(v []byte, dst *[maxConnectionTokens][64]byte, lens *[maxConnectionTokens]uint8) int {
	n := 0
	for len(v) > 0 && n < maxConnectionTokens {
		i := bytes.IndexByte(v, ',')
		tok := v
		if i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		tok = bytes.TrimSpace(tok)
		if len(tok) == 0 || len(tok) > len(dst[n]) {
			continue
		}
		lens[n] = uint8(copy(dst[n][:], tok))
		n++
	}
	return n
}

// stripRequestHopByHop removes the hop-by-hop headers of a request, and
// every header its Connection header names, before it goes upstream.
func stripRequestHopByHop(h *fasthttp.RequestHeader) {
	if c := h.Peek(fasthttp.HeaderConnection); len(c) > 0 {
		var names [maxConnectionTokens][64]byte
		var lens [maxConnectionTokens]uint8
		n := connectionTokens(c, &names, &lens)
		for i := 0; i < n; i++ {
			h.DelBytes(names[i][:lens[i]])
		}
	}
	h.Del(fasthttp.HeaderConnection)
	for _, name := range hopByHop {
		h.Del(name)
	}
	// The upstream connection is pooled whatever the client asked for its
	// own connection.
	h.ResetConnectionClose()
}

// stripResponseHopByHop does the same for a response on its way back.
func stripResponseHopByHop(h *fasthttp.ResponseHeader) {
	if c := h.Peek(fasthttp.HeaderConnection); len(c) > 0 {
		var names [maxConnectionTokens][64]byte
		var lens [maxConnectionTokens]uint8
		n := connectionTokens(c, &names, &lens)
		for i := 0; i < n; i++ {
			h.DelBytes(names[i][:lens[i]])
		}
	}
	h.Del(fasthttp.HeaderConnection)
	for _, name := range hopByHop {
		h.Del(name)
	}
	// The upstream closing its connection says nothing about the client's.
	h.ResetConnectionClose()
}

// appendRequestID appends a new random request id in the UUID version 4
// layout to dst.
func appendRequestID(dst []byte) []byte {
	const hex = "0123456789abcdef"
	hi, lo := rand.Uint64(), rand.Uint64()
	hi = hi&^(0xf<<12) | 0x4<<12 // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // variant 10
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[c>>4], hex[c&0xf])
	}
	return dst
}

// headerOps are a route's compiled request or response header changes.
type headerOps struct {
	set    []headerKV
	remove []string
}

type headerKV struct {
	key   string
	value []byte
}

func (o *headerOps) applyRequest(h *fasthttp.RequestHeader) {
	for _, k := range o.remove {
		h.Del(k)
	}
	for i := range o.set {
		h.SetBytesV(o.set[i].key, o.set[i].value)
	}
}

func (o *headerOps) applyResponse(h *fasthttp.ResponseHeader) {
	for _, k := range o.remove {
		h.Del(k)
	}
	for i := range o.set {
		h.SetBytesV(o.set[i].key, o.set[i].value)
	}
}

func newHeaderOps(set map[string]string, remove []string) headerOps {
	o := headerOps{remove: append([]string(nil), remove...)}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		o.set = append(o.set, headerKV{key: k, value: []byte(set[k])})
	}
	return o
}
