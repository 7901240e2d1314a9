package gateway

import (
	"bufio"
	"bytes"
	stdgzip "compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/valyala/fasthttp"
)

// decodeAs decodes body of Content-Encoding enc with a decoder that
// shares no code with the gateway's encoder: the standard library's
// gzip, andybalholm's brotli (the gateway encodes with go-brrr), and
// klauspost's zstd decoder.
func decodeAs(t testing.TB, enc string, body []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "":
		return body
	case "gzip":
		zr, err := stdgzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body), zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unexpected Content-Encoding %q", enc)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", enc, err)
	}
	return out
}

// jsonText is n bytes of JSON-like text.
func jsonText(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"user %d","tags":["a","b"]},`, i, i*7919%10007)
	}
	return b.Bytes()[:n]
}

// answerUpstream answers as its query says: n bytes of JSON (or of
// type), status, and the headers ce (Content-Encoding), cc
// (Cache-Control), etag, vary; stream=1 sends the body chunked.
func answerUpstream(t *testing.T) string {
	return startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		a := ctx.QueryArgs()
		n, _ := strconv.Atoi(string(a.Peek("n")))
		h := &ctx.Response.Header
		h.SetContentType("application/json")
		if v := a.Peek("type"); v != nil {
			h.SetContentTypeBytes(v)
		}
		for q, name := range map[string]string{"ce": "Content-Encoding", "cc": "Cache-Control", "etag": "ETag", "vary": "Vary"} {
			if v := a.Peek(q); v != nil {
				h.SetBytesV(name, v)
			}
		}
		h.Set("Accept-Ranges", "bytes")
		if st := a.GetUintOrZero("status"); st != 0 {
			ctx.SetStatusCode(st)
		}
		body := jsonText(n)
		if string(a.Peek("stream")) == "1" {
			ctx.SetBodyStream(bytes.NewReader(body), -1)
			return
		}
		ctx.SetBody(body)
	})
}

const compressConfig = `
routes:
  - name: zipped
    match: { path_prefix: /z/ }
    strip_prefix: /z
    upstream: { targets: ["{UP1}"] }
    compression: {}
  - name: gzip-only
    match: { path_prefix: /g/ }
    strip_prefix: /g
    upstream: { targets: ["{UP1}"] }
    compression: { encodings: [gzip], min_size: 100B, types: [application/json, "text/*"] }
  - name: plain
    match: { path_prefix: /p/ }
    strip_prefix: /p
    upstream: { targets: ["{UP1}"] }
`

// TestCompression checks every rule of which answers are compressed,
// with what, and the headers that say so.
func TestCompression(t *testing.T) {
	gw := startGateway(t, compressConfig, answerUpstream(t))
	const browser = "gzip, deflate, br, zstd"
	tests := []struct {
		desc   string
		method string
		path   string
		accept string // Accept-Encoding; "-" for none
		want   string // Content-Encoding the gateway set
		passed string // the upstream's own Content-Encoding
		vary   bool   // Vary: Accept-Encoding expected
		reason string // skipped reason counted, "" for compressed
	}{
		{desc: "browser: server order picks zstd", path: "/z/?n=5000", accept: browser, want: "zstd", vary: true},
		{desc: "brotli", path: "/z/?n=5000", accept: "br, gzip", want: "br", vary: true},
		{desc: "gzip", path: "/z/?n=5000", accept: "gzip", want: "gzip", vary: true},
		{desc: "client's q beats server order", path: "/z/?n=5000", accept: "zstd;q=0.2, gzip;q=0.9", want: "gzip", vary: true},
		{desc: "q=0 refuses", path: "/z/?n=5000", accept: "zstd;q=0, br;q=0, gzip", want: "gzip", vary: true},
		{desc: "star", path: "/z/?n=5000", accept: "*", want: "zstd", vary: true},
		{desc: "no Accept-Encoding", path: "/z/?n=5000", accept: "-", vary: true, reason: "client"},
		{desc: "identity only", path: "/z/?n=5000", accept: "identity", vary: true, reason: "client"},
		{desc: "malformed", path: "/z/?n=5000", accept: "gzip;q=2, br;q=x", vary: true, reason: "client"},
		{desc: "only codings not offered", path: "/g/?n=5000", accept: "br, zstd", vary: true, reason: "client"},
		{desc: "below min_size", path: "/z/?n=1000", accept: browser, vary: true, reason: "size"},
		{desc: "route's own min_size", path: "/g/?n=200", accept: browser, want: "gzip", vary: true},
		{desc: "type not listed", path: "/z/?n=5000&type=image/png", accept: browser, reason: "type"},
		{desc: "woff2", path: "/z/?n=5000&type=font/woff2", accept: browser, reason: "type"},
		{desc: "text with charset", path: "/z/?n=5000&type=text/html;%20charset=utf-8", accept: browser, want: "zstd", vary: true},
		{desc: "+json suffix", path: "/z/?n=5000&type=application/problem%2Bjson", accept: "gzip", want: "gzip", vary: true},
		{desc: "type in upper case", path: "/z/?n=5000&type=Application/JSON", accept: "gzip", want: "gzip", vary: true},
		{desc: "encoded already", path: "/z/?n=5000&ce=gzip", accept: browser, passed: "gzip", reason: "encoded"},
		{desc: "no-transform", path: "/z/?n=5000&cc=public,%20No-Transform", accept: browser, reason: "no_transform"},
		{desc: "event stream", path: "/z/?n=5000&type=text/event-stream&stream=1", accept: browser, reason: "stream"},
		{desc: "206", path: "/z/?n=5000&status=206", accept: browser, vary: true, reason: "status"},
		{desc: "204", path: "/z/?status=204", accept: browser, reason: "status"},
		{desc: "304", path: "/z/?status=304", accept: browser, vary: true, reason: "status"},
		{desc: "HEAD", method: "HEAD", path: "/z/?n=5000", accept: browser, vary: true, reason: "head"},
		{desc: "error status is compressed too", path: "/z/?n=5000&status=500", accept: "gzip", want: "gzip", vary: true},
		{desc: "route without compression", path: "/p/?n=5000", accept: browser},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			route := "zipped"
			if strings.HasPrefix(tt.path, "/g/") {
				route = "gzip-only"
			}
			before := -1.0
			if tt.reason != "" {
				before = gw.metric(t, `gateway_compression_skipped_total{reason="`+tt.reason+`",route="`+route+`"}`)
			}
			hdr := map[string]string{}
			if tt.accept != "-" {
				hdr["Accept-Encoding"] = tt.accept
			}
			method := tt.method
			if method == "" {
				method = "GET"
			}
			resp := gw.do(t, method, tt.path, hdr, "")
			if got := string(resp.Header.ContentEncoding()); got != tt.want+tt.passed {
				t.Fatalf("Content-Encoding %q, want %q", got, tt.want+tt.passed)
			}
			if got := hasToken(resp.Header.Peek("Vary"), "accept-encoding"); got != tt.vary {
				t.Errorf("Vary %q: Accept-Encoding in it %v, want %v", resp.Header.Peek("Vary"), got, tt.vary)
			}
			if tt.want != "" {
				n, _ := strconv.Atoi(tt.path[strings.Index(tt.path, "n=")+2 : strings.IndexAny(tt.path+"&", "&")])
				if got := decodeAs(t, tt.want, resp.Body()); !bytes.Equal(got, jsonText(n)) {
					t.Fatalf("decoded %d bytes that are not the upstream's %d", len(got), n)
				}
				// The upstream's answer came as a stream: compressed, it is
				// sent chunked.
				if cl := resp.Header.ContentLength(); cl >= 0 && cl != len(resp.Body()) {
					t.Errorf("Content-Length %d for %d bytes", resp.Header.ContentLength(), len(resp.Body()))
				}
				if len(resp.Header.Peek("Accept-Ranges")) != 0 {
					t.Error("a compressed answer still says Accept-Ranges")
				}
			} else if method == "GET" && resp.StatusCode() == 200 && tt.reason != "stream" {
				if !bytes.HasPrefix(resp.Body(), []byte(`{"id":0`)) {
					t.Errorf("the plain answer was changed: %.40q", resp.Body())
				}
			}
			if tt.reason != "" {
				after := gw.metric(t, `gateway_compression_skipped_total{reason="`+tt.reason+`",route="`+route+`"}`)
				if after != before+1 {
					t.Errorf("skipped{reason=%s}: %v, then %v", tt.reason, before, after)
				}
			}
		})
	}
}

// TestCompressionHeaders: a strong ETag turns weak, a weak one stays; an
// upstream's Vary keeps its names, and Accept-Encoding is not added
// twice.
func TestCompressionHeaders(t *testing.T) {
	gw := startGateway(t, compressConfig, answerUpstream(t))
	gzipped := map[string]string{"Accept-Encoding": "gzip"}
	for _, tt := range []struct {
		desc, query, etag, vary string
	}{
		{desc: "strong ETag", query: "&etag=%22abc%22", etag: `W/"abc"`, vary: "Accept-Encoding"},
		{desc: "weak ETag", query: "&etag=W/%22abc%22", etag: `W/"abc"`, vary: "Accept-Encoding"},
		{desc: "Vary merged", query: "&vary=Origin", vary: "Origin, Accept-Encoding"},
		{desc: "Vary has it already", query: "&vary=accept-encoding,%20Origin", vary: "accept-encoding, Origin"},
		{desc: "Vary star", query: "&vary=*", vary: "*"},
	} {
		resp := gw.do(t, "GET", "/z/?n=5000"+tt.query, gzipped, "")
		if string(resp.Header.ContentEncoding()) != "gzip" {
			t.Fatalf("%s: not compressed", tt.desc)
		}
		if got := string(resp.Header.Peek("ETag")); got != tt.etag {
			t.Errorf("%s: ETag %q, want %q", tt.desc, got, tt.etag)
		}
		if got := string(resp.Header.Peek("Vary")); got != tt.vary {
			t.Errorf("%s: Vary %q, want %q", tt.desc, got, tt.vary)
		}
	}
	// An HTTP/1.0 client cannot take a chunked stream: the upstream's
	// answer (streamed, of known length) goes plain, with its length.
	_, raw := gw.raw(t, "GET /z/?n=5000 HTTP/1.0\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
	if head, _, _ := strings.Cut(raw, "\r\n\r\n"); strings.Contains(head, "Content-Encoding") ||
		!strings.Contains(head, "Content-Length: 5000") || strings.Contains(head, "chunked") {
		t.Errorf("HTTP/1.0 client got:\n%s", head)
	}
	// Not compressed for this client: the ETag stays strong.
	resp := gw.do(t, "GET", "/z/?n=5000&etag=%22abc%22", nil, "")
	if got := string(resp.Header.Peek("ETag")); got != `"abc"` {
		t.Errorf("uncompressed answer: ETag %q", got)
	}
	in := gw.metric(t, `gateway_compression_bytes_total{encoding="gzip",route="zipped",side="in"}`)
	out := gw.metric(t, `gateway_compression_bytes_total{encoding="gzip",route="zipped",side="out"}`)
	if in != 5*5000 || out <= 0 || out > in/3 {
		t.Errorf("gzip bytes in %v, out %v; want in %d and a ratio over 3", in, out, 5*5000)
	}
}

// TestCompressionStreamed: an answer streamed from the upstream (chunked,
// larger than the size the proxy buffers) is compressed as it streams:
// each piece reaches the client, decodable, before the upstream sends
// the next, and the whole decodes to what the upstream sent.
func TestCompressionStreamed(t *testing.T) {
	const pieces, size = 6, 20 << 10
	for _, enc := range []string{"gzip", "br", "zstd"} {
		t.Run(enc, func(t *testing.T) {
			next := make(chan int)
			up := chunkedUpstream(t, next, size)
			gw := startGateway(t, `
routes:
  - { name: s, match: { path: /s }, upstream: { targets: ["{UP1}"], timeout: 10s }, compression: { encodings: [`+enc+`] } }
`, up)
			req, _ := http.NewRequest("GET", "http://"+gw.addr+"/s", nil)
			req.Header.Set("Accept-Encoding", enc)
			tr := &http.Transport{DisableCompression: true}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if got := resp.Header.Get("Content-Encoding"); got != enc || resp.ContentLength != -1 {
				t.Fatalf("Content-Encoding %q, length %d", got, resp.ContentLength)
			}
			dec := streamDecoder(t, enc, resp.Body)
			for i := range pieces {
				if i > 0 {
					next <- i
				}
				got := make([]byte, size)
				if _, err := io.ReadFull(dec, got); err != nil {
					t.Fatalf("piece %d: %v", i, err)
				}
				if !bytes.Equal(got, piece(i, size)) {
					t.Fatalf("piece %d differs", i)
				}
			}
			close(next)
			if rest, err := io.ReadAll(dec); err != nil || len(rest) != 0 {
				t.Fatalf("after the pieces: %d bytes, %v", len(rest), err)
			}
		})
	}
}

func streamDecoder(t *testing.T, enc string, r io.Reader) io.Reader {
	t.Helper()
	switch enc {
	case "gzip":
		zr, err := stdgzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		return zr
	case "br":
		return brotli.NewReader(r)
	default:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(zr.Close)
		return zr
	}
}

// piece is the i-th piece chunkedUpstream sends.
func piece(i, size int) []byte {
	return jsonText(size + i*size)[i*size:]
}

// chunkedUpstream answers one request with a chunked JSON body, sending
// piece i when the test sends i on next, and the end when next closes.
func chunkedUpstream(t *testing.T, next <-chan int, size int) string {
	t.Helper()
	return oneRequestUpstream(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
		fmt.Fprintf(c, "%x\r\n%s\r\n", size, piece(0, size))
		for i := range next {
			fmt.Fprintf(c, "%x\r\n%s\r\n", size, piece(i, size))
		}
		io.WriteString(c, "0\r\n\r\n")
	})
}

// TestCompressionFallbackCache: the fallback cache keeps the upstream's
// answer once, uncompressed, and a copy it serves is compressed for a
// client that accepts gzip and plain for one that does not.
func TestCompressionFallbackCache(t *testing.T) {
	var down atomic.Bool
	body := jsonText(4000)
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		if down.Load() {
			ctx.SetStatusCode(503)
			return
		}
		ctx.Response.Header.SetContentType("application/json")
		ctx.Response.Header.Set("Cache-Control", "max-age=60")
		ctx.SetBody(body)
	})
	gw := startGateway(t, `
routes:
  - name: cached
    match: { path: /data }
    upstream: { targets: ["{UP1}"], retries: 0 }
    compression: { encodings: [gzip] }
    fallback: { cache: {}, on_status: [503] }
`, up)
	gzipped := map[string]string{"Accept-Encoding": "gzip"}
	// Stored from a compressed answer: the copy must still be plain.
	if resp := gw.do(t, "GET", "/data", gzipped, ""); string(resp.Header.ContentEncoding()) != "gzip" {
		t.Fatalf("while up: Content-Encoding %q", resp.Header.ContentEncoding())
	}
	down.Store(true)
	for _, tt := range []struct {
		desc string
		hdr  map[string]string
		want string
	}{
		{desc: "gzip client", hdr: gzipped, want: "gzip"},
		{desc: "client without Accept-Encoding", hdr: nil, want: ""},
		{desc: "gzip client again", hdr: gzipped, want: "gzip"},
	} {
		resp := gw.do(t, "GET", "/data", tt.hdr, "")
		if resp.StatusCode() != 200 || string(resp.Header.Peek("X-Fallback")) != "cache" {
			t.Fatalf("%s: status %d X-Fallback %q", tt.desc, resp.StatusCode(), resp.Header.Peek("X-Fallback"))
		}
		if got := string(resp.Header.ContentEncoding()); got != tt.want {
			t.Fatalf("%s: Content-Encoding %q, want %q", tt.desc, got, tt.want)
		}
		if got := decodeAs(t, tt.want, resp.Body()); !bytes.Equal(got, body) {
			t.Fatalf("%s: the copy decodes to %d bytes, not the upstream's %d", tt.desc, len(got), len(body))
		}
		if !hasToken(resp.Header.Peek("Vary"), "accept-encoding") {
			t.Errorf("%s: Vary %q", tt.desc, resp.Header.Peek("Vary"))
		}
	}
}

// TestCompressionStreamBroken: an upstream that breaks a compressed
// streamed answer midway gets it aborted as without compression: the
// client's stream is cut (it never ends, so it cannot pass for whole),
// the answer is counted "aborted", the upstream error counted, and the
// route keeps serving compressed answers afterwards.
func TestCompressionStreamBroken(t *testing.T) {
	sent := make(chan struct{}, 1)
	var first atomic.Bool
	first.Store(true)
	up := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
		fmt.Fprintf(c, "%x\r\n%s\r\n", 4000, jsonText(4000))
		if !first.CompareAndSwap(true, false) {
			io.WriteString(c, "0\r\n\r\n")
			return
		}
		select {
		case <-sent: // the client has the first piece
		case <-time.After(5 * time.Second):
		}
		io.WriteString(c, "zz\r\nbroken\r\n")
	})
	gw := startGateway(t, `
routes:
  - { name: r, match: { path: /r }, upstream: { targets: ["{UP1}"], retries: 0 }, compression: { encodings: [gzip] } }
`, up)
	req, _ := http.NewRequest("GET", "http://"+gw.addr+"/r", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := stdgzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4000)
	if _, err := io.ReadFull(zr, got); err != nil || !bytes.Equal(got, jsonText(4000)) {
		t.Fatalf("first piece: %v", err)
	}
	sent <- struct{}{}
	if rest, err := io.ReadAll(zr); err == nil {
		t.Fatalf("the broken answer ended as if whole, %d more bytes", len(rest))
	}
	resp.Body.Close()
	if got := gw.metric(t, `gateway_requests_total{code="aborted",method="GET",route="r"}`); got != 1 {
		t.Errorf("requests counted aborted: %v, want 1", got)
	}
	if got := gw.metric(t, `gateway_upstream_errors_total{kind="protocol",route="r"}`); got != 1 {
		t.Errorf("protocol errors counted %v, want 1", got)
	}
	// The encoder and the connection were given back: the next answer
	// is compressed whole.
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(decodeAs(t, "gzip", body), jsonText(4000)) {
		t.Fatalf("after the broken answer: %v, Content-Encoding %q", err, resp.Header.Get("Content-Encoding"))
	}
	if got := gw.metric(t, `gateway_requests_total{code="200",method="GET",route="r"}`); got != 1 {
		t.Errorf("requests counted 200: %v, want 1", got)
	}
}

// TestCompressionLeavesEventStreams: on a route with compression, an
// event stream to a client that accepts gzip is sent as it is, each
// event before the next is produced.
func TestCompressionLeavesEventStreams(t *testing.T) {
	next := make(chan int)
	up := eventUpstream(t, next)
	gw := startGateway(t, `
routes:
  - { name: events, match: { path: /events }, upstream: { targets: ["{UP1}"], timeout: 10s }, compression: { types: ["text/*"] } }
`, up)
	br, head := openEvents(t, gw.addr, "Accept-Encoding: gzip, br, zstd", 10*time.Second)
	if len(head.ContentEncoding()) != 0 {
		t.Fatalf("event stream sent with Content-Encoding %q", head.ContentEncoding())
	}
	start := time.Now()
	for i := range 3 {
		next <- i
		readEvent(t, br, i, start)
	}
	next <- -1
	if got := gw.metric(t, `gateway_compression_skipped_total{reason="stream",route="events"}`); got != 1 {
		t.Errorf("skipped{reason=stream}: %v, want 1", got)
	}
}

// TestCompressionMaxStreams: past max_streams answers being compressed as
// they stream, the next streamed answer goes plain (skipped, busy); once
// one ends, answers are compressed again.
func TestCompressionMaxStreams(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		first := calls.Add(1) == 1
		ctx.SetContentType("application/json")
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			w.Write(jsonText(4000))
			w.Flush()
			if first {
				<-release
			}
		})
	})
	gw := startGateway(t, `
routes:
  - { name: r, match: { path: /r }, upstream: { targets: ["{UP1}"] }, compression: { encodings: [gzip], max_streams: 1 } }
`, up)
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() *http.Response {
		req, _ := http.NewRequest("GET", "http://"+gw.addr+"/r", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	held := get() // compressed, and held open by the upstream
	if held.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("first answer: Content-Encoding %q", held.Header.Get("Content-Encoding"))
	}
	busy := get()
	body, err := io.ReadAll(busy.Body)
	busy.Body.Close()
	if err != nil || busy.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, jsonText(4000)) {
		t.Fatalf("while one streams: %v, Content-Encoding %q, %d bytes", err, busy.Header.Get("Content-Encoding"), len(body))
	}
	if got := gw.metric(t, `gateway_compression_skipped_total{reason="busy",route="r"}`); got != 1 {
		t.Errorf("skipped{reason=busy}: %v, want 1", got)
	}
	close(release)
	if body, err := io.ReadAll(held.Body); err != nil || !bytes.Equal(decodeAs(t, "gzip", body), jsonText(4000)) {
		t.Fatalf("the held answer: %v", err)
	}
	held.Body.Close()
	again := get()
	body, err = io.ReadAll(again.Body)
	again.Body.Close()
	if err != nil || again.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(decodeAs(t, "gzip", body), jsonText(4000)) {
		t.Fatalf("after the first ended: %v, Content-Encoding %q", err, again.Header.Get("Content-Encoding"))
	}
}
