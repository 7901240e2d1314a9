package gateway

import (
	"bytes"
	"net/netip"

	"github.com/valyala/fasthttp"
)

// clientAddr returns the client's address as trusted_proxies decide it: the
// connection's peer, unless the peer is a trusted proxy, in which case the
// right-most address of X-Forwarded-For that is not itself a trusted proxy
// (the left-most one when they all are). A malformed entry ends the walk:
// what a client wrote to the left of it cannot be believed. Rate limits by
// client, and logs, use this address.
func clientAddr(ctx *fasthttp.RequestCtx, trusted *trustedProxies) netip.Addr {
	peer := peerAddr(ctx)
	if !trusted.contains(peer) {
		return peer
	}
	xff := ctx.Request.Header.Peek(hdrXForwardedFor)
	client := peer
	for len(xff) > 0 {
		i := bytes.LastIndexByte(xff, ',')
		tok := bytes.TrimSpace(xff[i+1:])
		if i < 0 {
			xff = nil
		} else {
			xff = xff[:i]
		}
		a, ok := parseAddr(tok)
		if !ok {
			break
		}
		client = a
		if !trusted.contains(a) {
			break
		}
	}
	return client
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
