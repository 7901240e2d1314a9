package gateway

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/config"
)

// startUpstream runs a real fasthttp server on a loopback port until the
// test ends and returns its "http://host:port".
func startUpstream(t testing.TB, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{Handler: h, StreamRequestBody: true, MaxRequestBodySize: 1 << 20,
		MaxIdleWorkerDuration: 20 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Shutdown()
		// Shutdown returns at once when Serve has not yet taken the
		// listener (a test that failed right away): closing it ends
		// that Serve too.
		_ = ln.Close()
		<-done
	})
	return "http://" + ln.Addr().String()
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// testGateway is a gateway serving on a loopback port.
type testGateway struct {
	*Gateway
	addr  string // host:port of the proxy listener
	admin string // base URL of the admin handler
	log   *slog.Logger
}

// startGateway parses yaml, which may use the placeholders {UP1}, {UP2}...
// replaced by the given upstream URLs, and serves it until the test ends.
func startGateway(t testing.TB, yaml string, upstreams ...string) *testGateway {
	t.Helper()
	for i, u := range upstreams {
		yaml = strings.ReplaceAll(yaml, "{UP"+string(rune('1'+i))+"}", u)
	}
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return serveConfig(t, cfg)
}

// serveConfig serves cfg on loopback until the test ends.
func serveConfig(t testing.TB, cfg *config.Config) *testGateway {
	return serveConfigWith(t, cfg, Options{})
}

// serveConfigWith is serveConfig with options (its Logger is the test's).
func serveConfigWith(t testing.TB, cfg *config.Config, opts Options) *testGateway {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	opts.Logger = log
	return serveConfigLogged(t, cfg, opts)
}

// metric returns the value of one series from /metrics, e.g.
// `gateway_config_reloads_total{result="success"}`, or -1 when absent.
func (g *testGateway) metric(t testing.TB, series string) float64 {
	t.Helper()
	_, body, err := fasthttp.Get(nil, g.admin+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return -1
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// do sends one request through the gateway with a fresh client.
func (g *testGateway) do(t testing.TB, method, path string, hdr map[string]string, body string) *fasthttp.Response {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI("http://" + g.addr + path)
	req.Header.SetMethod(method)
	for k, v := range hdr {
		if strings.EqualFold(k, "Host") {
			req.UseHostHeader = true
			req.Header.SetHost(v)
			continue
		}
		req.Header.Set(k, v)
	}
	if body != "" {
		req.SetBodyString(body)
	}
	resp := &fasthttp.Response{}
	c := &fasthttp.Client{MaxIdemponentCallAttempts: 1, ReadTimeout: 10 * time.Second}
	if err := c.Do(req, resp); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// raw writes a request verbatim on a new connection and returns the status
// line and whether the gateway then closed the connection.
func (g *testGateway) raw(t testing.TB, request string) (status string, resp string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", g.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	all, _ := io.ReadAll(bufio.NewReader(c))
	resp = string(all)
	status, _, _ = strings.Cut(resp, "\r\n")
	return status, resp
}

// closedGet sends one GET on a new connection that closes after the answer,
// leaving no client state behind, and returns the status line.
func (g *testGateway) closedGet(t testing.TB, path string) string {
	t.Helper()
	status, _ := g.raw(t, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	return status
}
