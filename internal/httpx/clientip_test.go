package httpx

import (
	"net"
	"net/netip"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestClientAddr(t *testing.T) {
	trusted, err := NewTrustedProxies([]string{"10.0.0.0/8", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		peer string
		xff  string
		want string
	}{
		{desc: "untrusted peer: its forwarded-for is ignored", peer: "203.0.113.5", xff: "1.1.1.1", want: "203.0.113.5"},
		{desc: "trusted peer, one client", peer: "10.1.1.1", xff: "198.51.100.7", want: "198.51.100.7"},
		{desc: "trusted chain: right-most untrusted wins", peer: "10.1.1.1", xff: "6.6.6.6, 198.51.100.7, 10.2.2.2", want: "198.51.100.7"},
		{desc: "all trusted: the left-most", peer: "10.1.1.1", xff: "10.3.3.3, 192.0.2.1", want: "10.3.3.3"},
		{desc: "no header: the peer", peer: "10.1.1.1", xff: "", want: "10.1.1.1"},
		{desc: "garbage stops the walk", peer: "10.1.1.1", xff: "6.6.6.6, not-an-ip, 10.2.2.2", want: "10.2.2.2"},
		{desc: "IPv6 client", peer: "192.0.2.1", xff: "2001:db8::1", want: "2001:db8::1"},
		{desc: "overflowing octet is garbage", peer: "10.1.1.1", xff: "1.2.3.256", want: "10.1.1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var ctx fasthttp.RequestCtx
			var req fasthttp.Request
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			peer := netip.MustParseAddr(tt.peer)
			ctx.Init(&req, &net.TCPAddr{IP: peer.AsSlice(), Port: 1234}, nil)
			if got := ClientAddr(&ctx, trusted); got.String() != tt.want {
				t.Errorf("client %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		give string
		want string // "" for invalid
	}{
		{give: "1.2.3.4", want: "1.2.3.4"},
		{give: "0.0.0.0", want: "0.0.0.0"},
		{give: "1.2.3", want: ""},
		{give: "1.2.3.4.5", want: ""},
		{give: "1..2.3", want: ""},
		{give: "0001.2.3.4", want: ""},
		{give: "::ffff:1.2.3.4", want: "1.2.3.4"},
		{give: "fe80::1", want: "fe80::1"},
		{give: "", want: ""},
	}
	for _, tt := range tests {
		a, ok := parseAddr([]byte(tt.give))
		if got := map[bool]string{true: a.String(), false: ""}[ok]; got != tt.want {
			t.Errorf("parseAddr(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
