package httpx

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"iter"
	"math/rand/v2"

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

// HeaderRequestID is the header that carries a request's id, the
// client's or one the gateway made (AppendRequestID), up and back down.
const HeaderRequestID = "X-Request-Id"

// The headers that name the client to an upstream: the gateway writes
// them (SetForwarded), and believes them only from a trusted proxy.
const (
	hdrXForwardedFor   = "X-Forwarded-For"
	hdrXForwardedProto = "X-Forwarded-Proto"
	hdrXForwardedHost  = "X-Forwarded-Host"
	hdrForwarded       = "Forwarded"
	hdrXRealIP         = "X-Real-IP"
	hdrTrueClientIP    = "True-Client-IP"
)

// HeaderFlags says which headers that the proxy acts on a message
// carries, found in one pass so that the common request, which has none
// of them, costs no per-name search.
type HeaderFlags uint16

// The flags of HeaderFlags: one per header, or family of headers, that
// the proxy acts on.
const (
	FlagHopByHop        HeaderFlags = 1 << iota // any of upstream.HopByHop, or Connection: close
	FlagForwarded                               // Forwarded (RFC 7239)
	FlagXForwardedFor                           // X-Forwarded-For
	FlagXForwardedProto                         // X-Forwarded-Proto
	FlagXForwardedHost                          // X-Forwarded-Host
	FlagRequestID                               // X-Request-Id
	FlagRequestIDs                              // more than one X-Request-Id line
	FlagXRealIP                                 // X-Real-IP
	FlagTrueClientIP                            // True-Client-IP
)

// ClassifyHeader returns the flag of header name k, or 0.
func ClassifyHeader(k []byte) HeaderFlags {
	if upstream.IsHopByHop(k) {
		return FlagHopByHop
	}
	is := func(name string) bool { return len(k) == len(name) && bytes.EqualFold(k, []byte(name)) }
	switch len(k) {
	case 9:
		if is(hdrForwarded) {
			return FlagForwarded
		}
		if is(hdrXRealIP) {
			return FlagXRealIP
		}
	case 12:
		if is(HeaderRequestID) {
			return FlagRequestID
		}
	case 14:
		if is(hdrTrueClientIP) {
			return FlagTrueClientIP
		}
	case 15:
		if is(hdrXForwardedFor) {
			return FlagXForwardedFor
		}
	case 16:
		if is(hdrXForwardedHost) {
			return FlagXForwardedHost
		}
	case 17:
		if is(hdrXForwardedProto) {
			return FlagXForwardedProto
		}
	}
	return 0
}

// ScanRequestHeaders classifies the headers of a request as the client
// sent them (its raw head, before any change).
func ScanRequestHeaders(h *fasthttp.RequestHeader) HeaderFlags {
	var f HeaderFlags
	raw := h.RawHeaders()
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if i := bytes.IndexByte(line, ':'); i > 0 {
			c := ClassifyHeader(line[:i])
			if c&f&FlagRequestID != 0 {
				f |= FlagRequestIDs // a second X-Request-Id line
			}
			f |= c
		}
	}
	if h.ConnectionClose() {
		f |= FlagHopByHop
	}
	return f
}

// ScanResponseHeaders classifies the headers of an upstream's response.
func ScanResponseHeaders(h *fasthttp.ResponseHeader) HeaderFlags {
	var f HeaderFlags
	for k := range h.All() {
		f |= ClassifyHeader(k)
	}
	return f
}

// StripRequestHopByHop removes the hop-by-hop headers of a request, and
// every header its Connection headers name (all of them: a message may
// carry several Connection lines), before it goes upstream.
func StripRequestHopByHop(h *fasthttp.RequestHeader) { stripHopByHop(h) }

// StripResponseHopByHop does the same for a response on its way back.
func StripResponseHopByHop(h *fasthttp.ResponseHeader) { stripHopByHop(h) }

// header is what stripHopByHop needs of a request's or a response's
// headers.
type header interface {
	All() iter.Seq2[[]byte, []byte]
	DelBytes(key []byte)
	Del(key string)
}

func stripHopByHop[H header](h H) {
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

// AppendRequestID appends a new random request id in the UUID version 4
// layout to dst.
func AppendRequestID(dst []byte) []byte {
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
