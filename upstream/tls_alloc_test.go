//go:build !race

package upstream

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/certs/certstest"
)

// TestTLSAllocs: a request on a reused TLS connection allocates nothing
// beyond what crypto/tls itself allocates for the same exchange. That is
// not zero: crypto/tls (Go 1.26) allocates one small reader for each read
// from the network (Conn.readFromUntil), which the baseline, a bare
// tls.Conn writing the same request and reading the answer, measures.
func TestTLSAllocs(t *testing.T) {
	ca := certstest.NewCA(t, "upstream CA")
	u := startTLSServer(t, ca, nil, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("hello, world!") })
	c := newClient(t, Settings{Addr: u.addr, TLS: &tls.Config{RootCAs: ca.Pool()}})
	var req fasthttp.Request
	var resp fasthttp.Response
	req.Header.SetHost(u.addr)
	req.SetRequestURI("/small")
	var failed error
	do := func() {
		if err := c.Do(&req, &resp, time.Now().Add(5*time.Second)); err != nil {
			failed = err
		}
	}
	do() // the handshake
	do()
	base := bareTLSAllocs(t, u.addr, ca)
	if allocs := testing.AllocsPerRun(200, do); allocs > base {
		t.Errorf("%v allocations per request on a reused TLS connection, want at most crypto/tls's own %v", allocs, base)
	}
	if failed != nil {
		t.Fatal(failed)
	}
	if st := c.Stats(); st != (Stats{Open: 1, Idle: 1}) {
		t.Errorf("stats = %+v, want one connection reused throughout", st)
	}
}

// bareTLSAllocs is what crypto/tls allocates for one request and its
// answer on an open connection to addr, without this package.
func bareTLSAllocs(t *testing.T, addr string, ca *certstest.CA) float64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 4096)
	var failed error
	exchange := func() {
		if _, err := c.Write(req); err != nil {
			failed = err
			return
		}
		// The answer is small: one record, one read.
		if _, err := c.Read(buf); err != nil {
			failed = err
		}
	}
	exchange()
	allocs := testing.AllocsPerRun(200, exchange)
	if failed != nil {
		t.Fatal(failed)
	}
	t.Logf("crypto/tls alone: %v allocations per exchange", allocs)
	return allocs
}
