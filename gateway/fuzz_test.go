package gateway

import (
	"bufio"
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/internal/httpx"
	"github.com/fastgate/gateway/upstream"
)

// FuzzPrepareRequest feeds arbitrary requests through the rewriting done
// before a request goes upstream and checks what must always hold: no
// hop-by-hop header and nothing named in Connection survives, an
// untrusted client cannot choose its X-Forwarded-For, every request has an
// id, and the result still serializes into a request that parses back.
func FuzzPrepareRequest(f *testing.F) {
	seeds := []string{
		"GET /api/users HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Foo\r\nX-Foo: 1\r\nKeep-Alive: 5\r\n\r\n",
		"POST /api HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\nContent-Length: 3\r\n\r\nabc",
		"GET http://other.example/api/z?q=1 HTTP/1.1\r\nHost: a\r\nTE: trailers\r\nUpgrade: h2c\r\n\r\n",
		"GET /apix HTTP/1.0\r\nConnection: close, Proxy-Authorization\r\nProxy-Authorization: x\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	trustAll, err := httpx.NewTrustedProxies([]string{"0.0.0.0/0", "::/0"})
	if err != nil {
		f.Fatal(err)
	}
	trustNone, _ := httpx.NewTrustedProxies(nil)
	peer := netip.MustParseAddr("192.0.2.7")
	f.Fuzz(func(t *testing.T, raw []byte, trusted bool) {
		var req fasthttp.Request
		if err := req.Read(bufio.NewReader(bytes.NewReader(raw))); err != nil {
			return
		}
		var listed []string
		for _, tok := range strings.Split(string(req.Header.Peek("Connection")), ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				listed = append(listed, tok)
			}
		}
		p := &proxyStep{
			route:       &route{},
			stripPrefix: []byte("/api"),
			reqHeaders:  newHeaderOps(map[string]string{"X-Route": "r"}, nil),
			pool:        &pool{settings: config.Upstream{}},
		}
		p.trusted = trustNone
		if trusted {
			p.trusted = trustAll
		}
		path := append([]byte(nil), req.URI().Path()...)
		if !bytes.HasPrefix(path, []byte("/api")) {
			p.stripPrefix = nil
		}
		p.prepare(&req, path, peer, "http")

		h := &req.Header
		for _, name := range upstream.HopByHop() {
			if v := h.Peek(name); len(v) > 0 {
				t.Errorf("%s: %q survived", name, v)
			}
		}
		ours := map[string]bool{"x-forwarded-for": true, "x-forwarded-proto": true, "x-forwarded-host": true, "x-request-id": true, "x-route": true}
		for _, name := range listed {
			if ours[strings.ToLower(name)] || strings.EqualFold(name, "host") || strings.EqualFold(name, "content-length") ||
				strings.EqualFold(name, "content-type") || strings.EqualFold(name, "transfer-encoding") {
				continue
			}
			if v := h.Peek(name); len(v) > 0 {
				t.Errorf("%s was named in Connection and survived: %q", name, v)
			}
		}
		if xff := string(h.Peek("X-Forwarded-For")); !trusted && xff != "192.0.2.7" {
			t.Errorf("untrusted X-Forwarded-For = %q, want the peer only", xff)
		} else if trusted && !strings.HasSuffix(xff, "192.0.2.7") {
			t.Errorf("trusted X-Forwarded-For = %q, want the peer appended", xff)
		}
		if len(h.Peek("X-Request-Id")) == 0 {
			t.Error("no X-Request-Id")
		}
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		if err := req.Write(w); err != nil {
			return // e.g. no host at all: the upstream client refuses it too
		}
		_ = w.Flush()
		var back fasthttp.Request
		if err := back.Read(bufio.NewReader(&out)); err != nil {
			t.Errorf("rewritten request does not parse: %v\n%q", err, out.Bytes())
		}
	})
}
