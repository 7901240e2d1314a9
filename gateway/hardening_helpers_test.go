package gateway

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// witness is a real upstream that counts the connections it accepted and
// the requests it answered, and keeps the last request it saw (its request
// line and headers as fasthttp read them, and its body).
type witness struct {
	url       string
	conns     atomic.Int32
	requests  atomic.Int32
	mu        sync.Mutex
	lastURI   string
	lastProto string
	lastHead  string
	lastBody  string
}

func (w *witness) last() (uri, head, body string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastURI, w.lastHead, w.lastBody
}

// proto returns the version of the last request line the witness read.
func (w *witness) proto() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastProto
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// startWitnessed starts a witness and a gateway in front of it with one
// route that proxies every request to it.
func startWitnessed(t testing.TB) (*witness, *testGateway) {
	t.Helper()
	up := startWitness(t)
	gw := startGateway(t, `
routes:
  - name: any
    match: { path_prefix: / }
    upstream: { targets: ["{UP1}"] }
`, up.url)
	return up, gw
}

// startWitness runs a witness upstream on loopback until the test ends.
// Each answer carries the header X-Upstream-Echo with the request URI the
// upstream received.
func startWitness(t testing.TB) *witness {
	t.Helper()
	w := &witness{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			w.requests.Add(1)
			w.mu.Lock()
			w.lastURI = string(ctx.RequestURI())
			w.lastProto = string(ctx.Request.Header.Protocol())
			var head bytes.Buffer
			for k, v := range ctx.Request.Header.All() {
				head.Write(k)
				head.WriteString(": ")
				head.Write(v)
				head.WriteString("\r\n")
			}
			w.lastHead = head.String()
			w.lastBody = string(ctx.Request.Body())
			w.mu.Unlock()
			ctx.SetBodyString("ok")
		},
		MaxRequestBodySize:    1 << 20,
		MaxIdleWorkerDuration: 20 * time.Millisecond,
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(countingListener{ln, &w.conns}) }()
	t.Cleanup(func() {
		_ = s.Shutdown()
		_ = ln.Close() // a Serve that had not begun (see startUpstream)
		<-done
	})
	w.url = "http://" + ln.Addr().String()
	return w
}
