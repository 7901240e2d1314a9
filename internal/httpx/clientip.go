package httpx

import (
	"bytes"
	"net/netip"

	"github.com/valyala/fasthttp"
)

// ClientAddr returns the client's address as trusted_proxies decide it: the
// connection's peer, unless the peer is a trusted proxy, in which case the
// right-most address of X-Forwarded-For that is not itself a trusted proxy
// (the left-most one when they all are). A malformed entry ends the walk:
// what a client wrote to the left of it cannot be believed. Rate limits by
// client, and logs, use this address.
func ClientAddr(ctx *fasthttp.RequestCtx, trusted *TrustedProxies) netip.Addr {
	peer := PeerAddr(ctx)
	if !trusted.Contains(peer) {
		return peer
	}
	return forwardedClient(&ctx.Request.Header, peer, trusted)
}

// forwardedClient is ClientAddr for a request whose peer is a trusted
// proxy: the address its X-Forwarded-For lines yield.
func forwardedClient(h *fasthttp.RequestHeader, peer netip.Addr, trusted *TrustedProxies) netip.Addr {
	// Several X-Forwarded-For lines are one list, in order: the walk
	// starts at the end of the last one.
	var lines [maxForwardedLines][]byte
	n := 0
	for k, v := range h.All() {
		if len(k) == len(hdrXForwardedFor) && bytes.EqualFold(k, []byte(hdrXForwardedFor)) {
			if n == len(lines) {
				// More lines than any chain of proxies writes: too many
				// to tell which to believe.
				return peer
			}
			lines[n] = v
			n++
		}
	}
	client := peer
	for n > 0 {
		n--
		a, ok, done := walkForwardedFor(lines[n], trusted)
		if a.IsValid() {
			client = a
		}
		if !ok || done {
			break
		}
	}
	return client
}

// maxForwardedLines bounds the X-Forwarded-For lines read from one
// request.
const maxForwardedLines = 8

// walkForwardedFor walks one X-Forwarded-For value from the right. It
// returns the last address taken, whether every entry parsed, and whether
// the walk is over because an address is not a trusted proxy.
func walkForwardedFor(xff []byte, trusted *TrustedProxies) (last netip.Addr, ok, done bool) {
	for len(xff) > 0 {
		i := bytes.LastIndexByte(xff, ',')
		tok := bytes.TrimSpace(xff[i+1:])
		if i < 0 {
			xff = nil
		} else {
			xff = xff[:i]
		}
		a, parsed := parseAddr(tok)
		if !parsed {
			return last, false, true
		}
		last = a
		if !trusted.Contains(a) {
			return last, true, true
		}
	}
	return last, true, false
}

// parseAddr parses an IP address from b. Dotted IPv4, the common case, is
// parsed here without allocating; anything else goes through netip.
func parseAddr(b []byte) (netip.Addr, bool) {
	if a, ok := parseIPv4(b); ok {
		return a, true
	}
	a, err := netip.ParseAddr(string(b))
	return a.Unmap(), err == nil
}

func parseIPv4(b []byte) (netip.Addr, bool) {
	var v4 [4]byte
	n, part, digits := 0, 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			part = part*10 + int(c-'0')
			digits++
			if part > 255 || digits > 3 {
				return netip.Addr{}, false
			}
		case c == '.' && digits > 0 && n < 3:
			v4[n] = byte(part)
			n, part, digits = n+1, 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if n != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	v4[3] = byte(part)
	return netip.AddrFrom4(v4), true
}
