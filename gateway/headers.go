package gateway

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/upstream"
)

// maxConnectionTokens bounds the names taken from a message's Connection
// headers.
const maxConnectionTokens = 16

// connectionNames holds the header names a message's Connection headers
// list, in a fixed array so that it stays off the heap. "close" and
// "keep-alive" are options, not header names, but deleting a header of
// that name is harmless.
type connectionNames struct {
	names [maxConnectionTokens][64]byte
	lens  [maxConnectionTokens]uint8
	n     int
}

// add takes the names of one Connection header value v.
func (c *connectionNames) add(v []byte) {
	for len(v) > 0 && c.n < maxConnectionTokens {
		i := bytes.IndexByte(v, ',')
		tok := v
		if i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		tok = bytes.TrimSpace(tok)
		if len(tok) == 0 || len(tok) > len(c.names[c.n]) {
			continue
		}
		c.lens[c.n] = uint8(copy(c.names[c.n][:], tok))
		c.n++
	}
}

// name returns the i-th name, or nil when it is one the gateway keeps
// whatever Connection says: Host, which the upstream routes on, and the
// framing headers, which the gateway writes itself (a client naming
// Content-Length must not unframe its body).
func (c *connectionNames) name(i int) []byte {
	name := c.names[i][:c.lens[i]]
	for _, p := range [...]string{fasthttp.HeaderHost, fasthttp.HeaderContentLength, fasthttp.HeaderTransferEncoding} {
		if len(name) == len(p) && bytes.EqualFold(name, []byte(p)) {
			return nil
		}
	}
	return name
}

func isConnection(k []byte) bool {
	return len(k) == len(fasthttp.HeaderConnection) && bytes.EqualFold(k, []byte(fasthttp.HeaderConnection))
}

// headerFlags says which headers that the proxy acts on a message
// carries, found in one pass so that the common request, which has none
// of them, costs no per-name search.
type headerFlags uint16

const (
	flagHopByHop headerFlags = 1 << iota // any of upstream.HopByHop
	flagForwarded
	flagXForwardedFor
	flagXForwardedProto
	flagXForwardedHost
	flagRequestID
	flagRequestIDs // more than one X-Request-Id line
	flagXRealIP
	flagTrueClientIP
)

// classifyHeader returns the flag of header name k, or 0.
func classifyHeader(k []byte) headerFlags {
	if upstream.IsHopByHop(k) {
		return flagHopByHop
	}
	is := func(name string) bool { return len(k) == len(name) && bytes.EqualFold(k, []byte(name)) }
	switch len(k) {
	case 9:
		if is(hdrForwarded) {
			return flagForwarded
		}
		if is(hdrXRealIP) {
			return flagXRealIP
		}
	case 12:
		if is(hdrRequestID) {
			return flagRequestID
		}
	case 14:
		if is(hdrTrueClientIP) {
			return flagTrueClientIP
		}
	case 15:
		if is(hdrXForwardedFor) {
			return flagXForwardedFor
		}
	case 16:
		if is(hdrXForwardedHost) {
			return flagXForwardedHost
		}
	case 17:
		if is(hdrXForwardedProto) {
			return flagXForwardedProto
		}
	}
	return 0
}

// scanRequestHeaders classifies the headers of a request as the client
// sent them (its raw head, before any change).
func scanRequestHeaders(h *fasthttp.RequestHeader) headerFlags {
	var f headerFlags
	raw := h.RawHeaders()
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if i := bytes.IndexByte(line, ':'); i > 0 {
			c := classifyHeader(line[:i])
			if c&f&flagRequestID != 0 {
				f |= flagRequestIDs // a second X-Request-Id line
			}
			f |= c
		}
	}
	if h.ConnectionClose() {
		f |= flagHopByHop
	}
	return f
}

// scanResponseHeaders classifies the headers of an upstream's response.
func scanResponseHeaders(h *fasthttp.ResponseHeader) headerFlags {
	var f headerFlags
	for k := range h.All() {
		f |= classifyHeader(k)
	}
	return f
}

// stripRequestHopByHop removes the hop-by-hop headers of a request, and
// every header its Connection headers name (all of them: a message may
// carry several Connection lines), before it goes upstream.
func stripRequestHopByHop(h *fasthttp.RequestHeader) {
	var c connectionNames
	for k, v := range h.All() {
		if isConnection(k) {
			c.add(v)
		}
	}
	for i := 0; i < c.n; i++ {
		if name := c.name(i); name != nil {
			h.DelBytes(name)
		}
	}
	for _, name := range upstream.HopByHop() {
		h.Del(name)
	}
}

// stripResponseHopByHop does the same for a response on its way back.
func stripResponseHopByHop(h *fasthttp.ResponseHeader) {
	var c connectionNames
	for k, v := range h.All() {
		if isConnection(k) {
			c.add(v)
		}
	}
	for i := 0; i < c.n; i++ {
		if name := c.name(i); name != nil {
			h.DelBytes(name)
		}
	}
	for _, name := range upstream.HopByHop() {
		h.Del(name)
	}
}

// appendRequestID appends a new random request id in the UUID version 4
// layout to dst.
func appendRequestID(dst []byte) []byte {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], rand.Uint64()&^(0xf<<12)|0x4<<12) // version 4
	binary.BigEndian.PutUint64(raw[8:], rand.Uint64()&^(0x3<<62)|0x2<<62) // variant 10
	var id [36]byte
	hex.Encode(id[0:8], raw[0:4])
	id[8] = '-'
	hex.Encode(id[9:13], raw[4:6])
	id[13] = '-'
	hex.Encode(id[14:18], raw[6:8])
	id[18] = '-'
	hex.Encode(id[19:23], raw[8:10])
	id[23] = '-'
	hex.Encode(id[24:36], raw[10:16])
	return append(dst, id[:]...)
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
