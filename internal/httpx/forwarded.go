package httpx

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"
)

// TrustedProxies decides whose X-Forwarded-* headers are believed.
// Immutable once built, so safe for concurrent use; one built from no
// entries trusts nobody.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// NewTrustedProxies builds the set of trusted_proxies entries: addresses
// ("192.0.2.1") and prefixes ("10.0.0.0/8"). Its errors start with
// "trusted_proxies: ".
func NewTrustedProxies(entries []string) (*TrustedProxies, error) {
	t := &TrustedProxies{}
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

// Contains reports whether a, IPv4-mapped or not, is a trusted proxy.
func (t *TrustedProxies) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// PeerAddr returns the address of the connection's peer without allocating:
// the one the connection noted when it was accepted (Peered), else its
// remote address.
func PeerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if p, ok := ctx.Conn().(Peered); ok {
		return p.PeerAddr()
	}
	if tcp, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(tcp.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// Peered is a connection that knows its peer's address, IPv4 unmapped
// and without a zone, so that a request need not work it out again from
// the connection's RemoteAddr.
type Peered interface {
	PeerAddr() netip.Addr
}

// SetForwarded writes X-Forwarded-For, -Proto and -Host, and X-Real-IP. A
// trusted peer's headers are kept and its own address appended (several
// X-Forwarded-For lines are joined into one list first); from anyone else
// they, and every Forwarded (RFC 7239) and True-Client-IP header, are
// replaced or removed, never appended to, so a client cannot forge its
// address: each goes upstream exactly once. X-Real-IP is the client's
// address as ClientAddr decides it, unless a trusted peer sent one.
// X-Forwarded-Proto is proto, the scheme of the client's connection. f
// tells which of them the client sent; scratch is a buffer owned by the
// caller for this request.
func SetForwarded(h *fasthttp.RequestHeader, f HeaderFlags, peer netip.Addr, proto string, t *TrustedProxies, scratch []byte) {
	trusted := t.Contains(peer)
	buf := scratch[:0]
	if trusted && f&FlagXForwardedFor != 0 {
		for k, v := range h.All() {
			if len(v) > 0 && len(k) == len(hdrXForwardedFor) && bytes.EqualFold(k, []byte(hdrXForwardedFor)) {
				buf = append(buf, v...)
				buf = append(buf, ", "...)
			}
		}
	}
	setRealIP(h, f, peer, t, trusted)
	if !trusted && f&FlagForwarded != 0 {
		h.Del(hdrForwarded)
	}
	if f&FlagXForwardedFor != 0 {
		h.Del(hdrXForwardedFor)
	}
	if peer.IsValid() {
		buf = peer.AppendTo(buf)
	}
	h.SetCanonical(keyXForwardedFor, buf)
	if !trusted || f&FlagXForwardedProto == 0 {
		if f&FlagXForwardedProto != 0 {
			h.Del(hdrXForwardedProto)
		}
		switch proto {
		case "http":
			h.SetCanonical(keyXForwardedProto, valHTTP)
		case "https":
			h.SetCanonical(keyXForwardedProto, valHTTPS)
		default:
			h.Set(hdrXForwardedProto, proto)
		}
	}
	if !trusted || f&FlagXForwardedHost == 0 {
		if f&FlagXForwardedHost != 0 {
			h.Del(hdrXForwardedHost)
		}
		h.SetCanonical(keyXForwardedHost, h.Host())
	}
}

// The names SetForwarded writes as fasthttp stores them (first letter and
// each one after a dash upper case), and the schemes: SetCanonical skips
// the normalizing copy that Set makes of the name on every call.
var (
	keyXForwardedFor   = []byte("X-Forwarded-For")
	keyXForwardedProto = []byte("X-Forwarded-Proto")
	keyXForwardedHost  = []byte("X-Forwarded-Host")
	keyXRealIP         = []byte("X-Real-Ip")
	valHTTP            = []byte("http")
	valHTTPS           = []byte("https")
)

// SchemeOf returns the scheme of the connection ctx came on: "https" on
// a TLS connection, whichever listener made it, "http" otherwise.
func SchemeOf(ctx *fasthttp.RequestCtx) string {
	if ctx.IsTLS() {
		return "https"
	}
	return "http"
}

// setRealIP writes X-Real-IP, as nginx setups commonly do, and removes
// True-Client-IP from an untrusted peer: both name the client to an
// upstream, so only the gateway or a trusted proxy may set them. It must
// run before X-Forwarded-For is rewritten.
func setRealIP(h *fasthttp.RequestHeader, f HeaderFlags, peer netip.Addr, t *TrustedProxies, trusted bool) {
	if trusted && f&FlagXRealIP != 0 {
		return
	}
	if !trusted {
		if f&FlagTrueClientIP != 0 {
			h.Del(hdrTrueClientIP)
		}
		if f&FlagXRealIP != 0 {
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
	h.SetCanonical(keyXRealIP, client.AppendTo(buf[:0]))
}
