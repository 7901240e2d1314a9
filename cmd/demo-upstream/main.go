// Command demo-upstream is a small HTTP server to put behind the gateway:
// `make run` starts it beside the gateway, the README tour sends requests
// through the gateway to it, and the load benchmark measures against it.
//
// It runs one server per address given with -listen, and each answer says
// which of them served it (the "instance" field of the JSON answers and the
// X-Instance header of every answer).
//
//	GET  /                 JSON echo of the request (also any unknown path)
//	GET  /bytes/{n}        exactly n bytes (n <= 64MiB), application/octet-stream
//	GET  /json/{n}         exactly n bytes (n <= 1MiB) of a JSON array of records, application/json
//	GET  /status/{code}    answers with that status (200-599)
//	GET  /delay/{duration} waits ("250ms", "2s", or plain seconds; at most 60s), then echoes
//	GET  /headers          the request headers as JSON
//	POST /echo             streams the request body back
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

const (
	defaultListen = "127.0.0.1:9001,127.0.0.1:9002"
	// maxBytes is the largest body /bytes/{n} serves.
	maxBytes = 64 << 20
	// maxDelay is the longest wait /delay/{duration} accepts.
	maxDelay = 60 * time.Second
	// shutdownTimeout bounds how long an exit waits for requests in flight.
	shutdownTimeout = 10 * time.Second
)

var (
	prefixBytes  = []byte("/bytes/")
	prefixJSON   = []byte("/json/")
	prefixStatus = []byte("/status/")
	prefixDelay  = []byte("/delay/")
	pathHeaders  = []byte("/headers")
	pathEcho     = []byte("/echo")

	headerInstance = []byte("X-Instance")
	contentOctet   = []byte("application/octet-stream")
	contentJSON    = []byte("application/json")
)

// pattern is the content of every /bytes answer: 64-byte lines of printable
// text, so that a body looks the same in a terminal whatever its size.
// Bodies up to len(pattern) are a prefix of it, sent without a copy or an
// allocation; larger ones repeat it through a stream.
var pattern = func() []byte {
	const line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n"
	return bytes.Repeat([]byte(line), (1<<20)/len(line))
}()

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "demo-upstream:", err)
		os.Exit(1)
	}
}

// run parses the flags, listens on every address and serves until ctx is
// done.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo-upstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", defaultListen, "comma-separated `addresses` to serve on, one server each")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	lns, err := listenAll(*listen)
	if err != nil {
		return err
	}
	return serve(ctx, lns, log.New(stderr, "demo-upstream: ", log.LstdFlags))
}

// listenAll opens one listener per address of the comma-separated list, or
// none at all if any of them fails.
func listenAll(list string) ([]net.Listener, error) {
	var lns []net.Listener
	for addr := range strings.SplitSeq(list, ",") {
		addr = strings.TrimSpace(addr)
		if addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
	}
	if len(lns) == 0 {
		return nil, errors.New("-listen: no address given")
	}
	return lns, nil
}

// serve runs one server per listener until ctx is done, then shuts them all
// down, letting requests in flight finish for up to shutdownTimeout.
func serve(ctx context.Context, lns []net.Listener, logger *log.Logger) error {
	servers := make([]*fasthttp.Server, len(lns))
	errc := make(chan error, len(lns))
	for i, ln := range lns {
		name := ln.Addr().String()
		servers[i] = &fasthttp.Server{
			Handler:           newInstance(name).handle,
			Name:              "demo-upstream",
			StreamRequestBody: true,
			IdleTimeout:       2 * time.Minute,
			Logger:            logger,
		}
		logger.Printf("listening on http://%s", name)
		go func(s *fasthttp.Server, ln net.Listener) { errc <- s.Serve(ln) }(servers[i], ln)
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		// One server failed: stop the others too.
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.ShutdownWithContext(shutdownCtx)
		}()
	}
	wg.Wait()
	logger.Print("stopped")
	return errors.Join(append(errs, err)...)
}

// instance answers the requests of one server. It is safe for concurrent
// use.
type instance struct {
	name      string
	nameBytes []byte
}

func newInstance(name string) *instance {
	return &instance{name: name, nameBytes: []byte(name)}
}

func (in *instance) handle(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.SetBytesKV(headerInstance, in.nameBytes)
	path := ctx.Path()
	switch {
	case bytes.HasPrefix(path, prefixBytes):
		in.bytes(ctx, path[len(prefixBytes):])
	case bytes.HasPrefix(path, prefixJSON):
		in.json(ctx, path[len(prefixJSON):])
	case bytes.HasPrefix(path, prefixStatus):
		in.status(ctx, path[len(prefixStatus):])
	case bytes.HasPrefix(path, prefixDelay):
		in.delay(ctx, path[len(prefixDelay):])
	case bytes.Equal(path, pathHeaders):
		writeJSON(ctx, struct {
			Headers map[string]string `json:"headers"`
		}{requestHeaders(ctx)})
	case bytes.Equal(path, pathEcho):
		in.echoBody(ctx)
	default:
		in.echo(ctx)
	}
}

// bytes answers with exactly n bytes. Up to len(pattern) it allocates
// nothing: the body is a slice of the shared, read-only pattern.
func (in *instance) bytes(ctx *fasthttp.RequestCtx, arg []byte) {
	n, err := fasthttp.ParseUint(arg)
	if err != nil || n > maxBytes {
		in.fail(ctx, fasthttp.StatusBadRequest, "bytes: want a size from 0 to 67108864\n")
		return
	}
	ctx.Response.Header.SetContentTypeBytes(contentOctet)
	if n <= len(pattern) {
		ctx.Response.SetBodyRaw(pattern[:n])
		return
	}
	ctx.SetBodyStream(&patternReader{left: n}, n)
}

// json answers with exactly n bytes of jsonPattern, without a copy or an
// allocation: what a compressed route is measured with (scripts/loadbench.sh).
func (in *instance) json(ctx *fasthttp.RequestCtx, arg []byte) {
	n, err := fasthttp.ParseUint(arg)
	if err != nil || n > len(jsonPattern) {
		in.fail(ctx, fasthttp.StatusBadRequest, "json: want a size from 0 to 1048576\n")
		return
	}
	ctx.Response.Header.SetContentTypeBytes(contentJSON)
	ctx.Response.SetBodyRaw(jsonPattern[:n])
}

// jsonPattern is 1 MiB of a JSON array of records like an API's: the same
// keys, values that vary (a prefix of it is cut mid-record, which a
// compressor does not mind).
var jsonPattern = func() []byte {
	var b bytes.Buffer
	b.WriteString("[")
	x := uint32(2463534242)
	for i := 0; b.Len() < 1<<20; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		fmt.Fprintf(&b, `{"id":%d,"name":"user-%08x","email":"u%d@example.com","score":%d.%02d,"active":%t,"tags":["t%d","t%d"]},`+"\n",
			i, x, x%100000, x%100, x%97, x%2 == 0, x%50, x%37)
	}
	return b.Bytes()[:1<<20]
}()

// status answers with the status code given in the path.
func (in *instance) status(ctx *fasthttp.RequestCtx, arg []byte) {
	code, err := fasthttp.ParseUint(arg)
	if err != nil || code < 200 || code > 599 {
		in.fail(ctx, fasthttp.StatusBadRequest, "status: want a code from 200 to 599\n")
		return
	}
	ctx.SetStatusCode(code)
	if code != fasthttp.StatusNoContent && code != fasthttp.StatusNotModified {
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString(fasthttp.StatusMessage(code) + "\n")
	}
}

// delay waits for the duration given in the path, then answers like echo.
// A shutdown cuts the wait short with 503.
func (in *instance) delay(ctx *fasthttp.RequestCtx, arg []byte) {
	d, ok := parseDelay(string(arg))
	if !ok {
		in.fail(ctx, fasthttp.StatusBadRequest, "delay: want a duration from 0 to 60s, like 250ms, 2s or 2\n")
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		in.echo(ctx)
	case <-ctx.Done():
		in.fail(ctx, fasthttp.StatusServiceUnavailable, "delay: server shutting down\n")
	}
}

func parseDelay(s string) (time.Duration, bool) {
	d, err := time.ParseDuration(s)
	if err != nil {
		n, err := fasthttp.ParseUint([]byte(s))
		if err != nil || n > int(maxDelay/time.Second) {
			return 0, false
		}
		d = time.Duration(n) * time.Second
	}
	return d, d >= 0 && d <= maxDelay
}

// echoBody streams the request body back as the response body, with the
// request's Content-Type.
func (in *instance) echoBody(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		in.fail(ctx, fasthttp.StatusMethodNotAllowed, "echo: use POST\n")
		ctx.Response.Header.Set(fasthttp.HeaderAllow, fasthttp.MethodPost)
		return
	}
	if ct := ctx.Request.Header.ContentType(); len(ct) > 0 {
		ctx.Response.Header.SetContentTypeBytes(ct)
	} else {
		ctx.Response.Header.SetContentTypeBytes(contentOctet)
	}
	body := ctx.RequestBodyStream()
	if body == nil {
		// No stream (the server does not stream request bodies, or there is
		// no body): the whole body is in memory already.
		ctx.SetBody(ctx.Request.Body())
		return
	}
	// A negative length (a chunked request) makes a chunked response.
	ctx.SetBodyStream(body, ctx.Request.Header.ContentLength())
}

// echoReply is the JSON answer of / and of every path with no handler.
type echoReply struct {
	Instance   string            `json:"instance"`
	Method     string            `json:"method"`
	Path       string            `json:"path"`
	Query      string            `json:"query"`
	RemoteAddr string            `json:"remote_addr"`
	Headers    map[string]string `json:"headers"`
}

func (in *instance) echo(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, echoReply{
		Instance:   in.name,
		Method:     string(ctx.Method()),
		Path:       string(ctx.Path()),
		Query:      string(ctx.URI().QueryString()),
		RemoteAddr: ctx.RemoteAddr().String(),
		Headers:    requestHeaders(ctx),
	})
}

// requestHeaders returns the request headers, with the values of a repeated
// header joined by ", ".
func requestHeaders(ctx *fasthttp.RequestCtx) map[string]string {
	h := make(map[string]string)
	for k, v := range ctx.Request.Header.All() {
		if old, ok := h[string(k)]; ok {
			h[string(k)] = old + ", " + string(v)
			continue
		}
		h[string(k)] = string(v)
	}
	return h
}

func writeJSON(ctx *fasthttp.RequestCtx, v any) {
	ctx.Response.Header.SetContentTypeBytes(contentJSON)
	enc := json.NewEncoder(ctx)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		ctx.Error("encode: "+err.Error()+"\n", fasthttp.StatusInternalServerError)
	}
}

// fail answers with a plain-text error. Unlike ctx.Error alone, it keeps the
// X-Instance header.
func (in *instance) fail(ctx *fasthttp.RequestCtx, code int, msg string) {
	ctx.Error(msg, code)
	ctx.Response.Header.SetBytesKV(headerInstance, in.nameBytes)
}

// patternReader yields left bytes of the repeated pattern.
type patternReader struct {
	off, left int
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), r.left)]
	n := 0
	for n < len(p) {
		c := copy(p[n:], pattern[r.off:])
		n += c
		r.off = (r.off + c) % len(pattern)
	}
	r.left -= n
	return n, nil
}
