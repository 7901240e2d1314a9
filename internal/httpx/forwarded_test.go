package httpx

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestNewTrustedProxies(t *testing.T) {
	for _, give := range []string{"nonsense", "10.0.0.0/33", "10.0.0.1/"} {
		if _, err := NewTrustedProxies([]string{give}); err == nil || !strings.HasPrefix(err.Error(), "trusted_proxies: ") {
			t.Errorf("%q: error %v, want one that names trusted_proxies", give, err)
		}
	}
	tp, err := NewTrustedProxies([]string{"10.1.2.3/8", "192.0.2.1", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		give string
		want bool
	}{
		{give: "10.200.0.1", want: true},
		{give: "::ffff:10.0.0.1", want: true}, // IPv4-mapped
		{give: "192.0.2.1", want: true},
		{give: "192.0.2.2", want: false},
		{give: "2001:db8:1::5", want: true},
		{give: "2001:db9::5", want: false},
	}
	for _, tt := range tests {
		if got := tp.Contains(netip.MustParseAddr(tt.give)); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.give, got, tt.want)
		}
	}
	var none *TrustedProxies
	if none, err = NewTrustedProxies(nil); err != nil || none.Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Errorf("no entries: err %v, or an address is trusted", err)
	}
}

// TestSetForwarded: from an untrusted peer every header that names the
// client is replaced or removed; from a trusted one X-Forwarded-For is
// appended to (its lines joined), and its -Proto, -Host and X-Real-IP
// stand.
func TestSetForwarded(t *testing.T) {
	const forged = "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 7.7.7.7\r\nX-Forwarded-Proto: https\r\n" +
		"X-Forwarded-Host: forged.example\r\nForwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nTrue-Client-IP: 6.6.6.6\r\n"
	tp, err := NewTrustedProxies([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		peer string
		want map[string]string // "" for absent
	}{
		{desc: "untrusted peer", peer: "203.0.113.5", want: map[string]string{
			"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "a.example",
			"Forwarded": "", "X-Real-IP": "203.0.113.5", "True-Client-IP": "",
		}},
		{desc: "trusted peer", peer: "10.0.0.9", want: map[string]string{
			"X-Forwarded-For": "6.6.6.6, 7.7.7.7, 10.0.0.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "forged.example",
			"Forwarded": "for=6.6.6.6", "X-Real-IP": "6.6.6.6", "True-Client-IP": "6.6.6.6",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			h := readHead(t, "GET /x HTTP/1.1\r\nHost: a.example\r\n"+forged+"\r\n")
			var scratch [128]byte
			SetForwarded(h, ScanRequestHeaders(h), netip.MustParseAddr(tt.peer), "http", tp, scratch[:0])
			for name, want := range tt.want {
				var got []string
				for k, v := range h.All() {
					if strings.EqualFold(string(k), name) {
						got = append(got, string(v))
					}
				}
				if want == "" && len(got) > 0 || want != "" && (len(got) != 1 || got[0] != want) {
					t.Errorf("%s: %q, want %q once", name, got, want)
				}
			}
		})
	}
}

func TestPeerAddrAndSchemeOf(t *testing.T) {
	var ctx fasthttp.RequestCtx
	var req fasthttp.Request
	ctx.Init(&req, &net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 1234}, nil)
	if got := PeerAddr(&ctx); got != netip.MustParseAddr("192.0.2.7") {
		t.Errorf("PeerAddr = %s, want 192.0.2.7 (unmapped)", got)
	}
	if got := SchemeOf(&ctx); got != "http" {
		t.Errorf("SchemeOf = %q on a plain connection, want http", got)
	}
}
