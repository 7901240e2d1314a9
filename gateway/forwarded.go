package gateway

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"
)

// trustedProxies decides whose X-Forwarded-* headers are believed.
// Immutable once built.
type trustedProxies struct {
	prefixes []netip.Prefix
}

func newTrustedProxies(entries []string) (*trustedProxies, error) {
	t := &trustedProxies{}
	for _, e := range entries {
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("trusted_proxies: %w", err)
			}
			t.prefixes = append(t.prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies: %w", err)
		}
		t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return t, nil
}

func (t *trustedProxies) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr returns the address of the connection's peer without allocating.
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if tcp, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(tcp.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// setForwarded writes X-Forwarded-For, -Proto and -Host, and X-Real-IP. A
// trusted peer's headers are kept and its own address appended (several
// X-Forwarded-For lines are joined into one list first); from anyone else
// they, and every Forwarded (RFC 7239) and True-Client-IP header, are
// replaced or removed, never appended to, so a client cannot forge its
// address: each goes upstream exactly once. X-Real-IP is the client's
// address as clientAddr decides it, unless a trusted peer sent one.
// X-Forwarded-Proto is proto, the scheme of the client's connection. f
// tells which of them the client sent; scratch is a buffer owned by the
// caller for this request.
func setForwarded(h *fasthttp.RequestHeader, f headerFlags, peer netip.Addr, proto string, t *trustedProxies, scratch []byte) {
	trusted := t.contains(peer)
	buf := scratch[:0]
	if trusted && f&flagXForwardedFor != 0 {
		for k, v := range h.All() {
			if len(v) > 0 && len(k) == len(hdrXForwardedFor) && bytes.EqualFold(k, []byte(hdrXForwardedFor)) {
				buf = append(buf, v...)
				buf = append(buf, ", "...)
			}
		}
	}
	setRealIP(h, f, peer, t, trusted)
	if !trusted && f&flagForwarded != 0 {
		h.Del(hdrForwarded)
	}
	if f&flagXForwardedFor != 0 {
		h.Del(hdrXForwardedFor)
	}
	if peer.IsValid() {
		buf = peer.AppendTo(buf)
	}
	h.SetBytesV(hdrXForwardedFor, buf)
	if !trusted || f&flagXForwardedProto == 0 {
		if f&flagXForwardedProto != 0 {
			h.Del(hdrXForwardedProto)
		}
		h.Set(hdrXForwardedProto, proto)
	}
	if !trusted || f&flagXForwardedHost == 0 {
		if f&flagXForwardedHost != 0 {
			h.Del(hdrXForwardedHost)
		}
		h.SetBytesV(hdrXForwardedHost, h.Host())
	}
}

// schemeOf returns the scheme of the connection ctx came on: "https" on
// a TLS connection, whichever listener made it, "http" otherwise.
func schemeOf(ctx *fasthttp.RequestCtx) string {
	if ctx.IsTLS() {
		return "https"
	}
	return "http"
}

// setRealIP writes X-Real-IP, as nginx setups commonly do, and removes
// True-Client-IP from an untrusted peer: both name the client to an
// upstream, so only the gateway or a trusted proxy may set them. It must
// run before X-Forwarded-For is rewritten.
func setRealIP(h *fasthttp.RequestHeader, f headerFlags, peer netip.Addr, t *trustedProxies, trusted bool) {
	if trusted && f&flagXRealIP != 0 {
		return
	}
	if !trusted {
		if f&flagTrueClientIP != 0 {
			h.Del(hdrTrueClientIP)
		}
		if f&flagXRealIP != 0 {
			h.Del(hdrXRealIP)
		}
	}
	client := peer
	if trusted {
		client = forwardedClient(h, peer, t)
	}
	if !client.IsValid() {
		return
	}
	var buf [64]byte
	h.SetBytesV(hdrXRealIP, client.AppendTo(buf[:0]))
}

const (
	hdrXForwardedFor   = "X-Forwarded-For"
	hdrXForwardedProto = "X-Forwarded-Proto"
	hdrXForwardedHost  = "X-Forwarded-Host"
	hdrForwarded       = "Forwarded"
	hdrXRealIP         = "X-Real-IP"
	hdrTrueClientIP    = "True-Client-IP"
	hdrRequestID       = "X-Request-Id"
)
