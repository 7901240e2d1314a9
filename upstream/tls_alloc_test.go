//go:build !race

package upstream

import (
	"crypto/tls"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/certs/certstest"
)

// TestTLSAllocs: a request on a reused TLS connection allocates nothing
// beyond what crypto/tls itself allocates for the same exchange. That is
// not zero: crypto/tls (Go 1.26) allocates a 24-byte reader for each read
// from the network (&atLeastReader{...} in Conn.readFromUntil, handed to
// bytes.Buffer.ReadFrom as an io.Reader, so it escapes; golang/go#53142,
// open), one per answer that arrives in one read. The request is written
// through the connection's bufio.Writer, one tls.Conn.Write per request,
// which allocates nothing. AllocsPerRun counts the test server's
// allocations too (its own readFromUntil, one per request): the
// baseline, a bare tls.Conn writing the same request to the same server
// and reading the answer, measures both sides the same way, and
// clientAllocSites then attributes every allocation made on the
// client's own stack.
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
	// Every allocation per request on the client's stack is crypto/tls's
	// reader. The profile's garbage collections empty crypto/tls's pool of
	// record buffers, which its next writes fill again: a few allocations
	// per collection, not per request, which are let through.
	const runs = 200
	sites := clientAllocSites(runs, do, "upstream.(*Client).Do")
	for site, n := range sites {
		if site != "crypto/tls.(*Conn).readFromUntil" && n*10 >= runs {
			t.Errorf("%d allocations in %d requests at %s, want none per request outside crypto/tls's reads", n, runs, site)
		}
	}
	if n := sites["crypto/tls.(*Conn).readFromUntil"]; n > runs {
		t.Errorf("%d crypto/tls readers in %d requests, want one per answer", n, runs)
	}
	t.Logf("allocations on the client's stack in %d requests, by site: %v", runs, sites)
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
	t.Logf("crypto/tls alone: %v allocations per exchange (a reader per read, on each side)", allocs)
	return allocs
}

// clientAllocSites runs f runs times with every allocation profiled and
// returns, for the allocations whose stack passes through the function
// named within, how many each allocating function made (the first frame
// outside the runtime).
func clientAllocSites(runs int, f func(), within string) map[string]int64 {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()
	f()
	before := allocSites(within)
	for range runs {
		f()
	}
	after := allocSites(within)
	for site, n := range before {
		if after[site] -= n; after[site] == 0 {
			delete(after, site)
		}
	}
	return after
}

// allocSites reads the memory profile: allocations by allocating
// function, of the stacks through within.
func allocSites(within string) map[string]int64 {
	// A profile is published by the garbage collections after the
	// allocations: three make sure the last runs are in.
	for range 3 {
		runtime.GC()
	}
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			recs = recs[:n]
			break
		}
	}
	out := map[string]int64{}
	for _, r := range recs {
		site, through := "", false
		frames := runtime.CallersFrames(r.Stack())
		for {
			fr, more := frames.Next()
			if site == "" && !strings.HasPrefix(fr.Function, "runtime.") {
				site = fr.Function
			}
			if strings.HasSuffix(fr.Function, within) {
				through = true
			}
			if !more {
				break
			}
		}
		if through {
			out[site] += r.AllocObjects
		}
	}
	return out
}
