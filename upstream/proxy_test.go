package upstream

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// startGateway runs a fasthttp.Server that proxies every request to c, as
// the gateway does: ctx.Request goes up as is, ctx.Response is filled in place.
func startGateway(t *testing.T, c *Client) *upstreamServer {
	t.Helper()
	return startServerWith(t, &fasthttp.Server{
		StreamRequestBody: true,
		Handler: func(ctx *fasthttp.RequestCtx) {
			if err := c.Do(&ctx.Request, &ctx.Response, time.Now().Add(5*time.Second)); err != nil {
				ctx.Error(err.Error(), fasthttp.StatusBadGateway)
			}
		},
	})
}

// TestProxyRoundTrip: bodies through a fasthttp.Server proxying with the
// client come out byte for byte, and the server's closing of the body
// stream puts the upstream connection back in the pool.
func TestProxyRoundTrip(t *testing.T) {
	data := pattern(1<<20 + 3)
	u := startServer(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/chunked":
			ctx.SetBodyStream(&chunky{r: bytes.NewReader(data), max: 3000}, -1)
		case "/echo":
			ctx.SetBody(ctx.Request.Body())
		default:
			ctx.SetBody(data)
		}
	})
	u.srv.MaxRequestBodySize = 4 << 20
	c := newClient(t, Settings{Addr: u.addr})
	gw := startGateway(t, c)
	down := newHostClient(gw.addr)
	t.Cleanup(down.CloseIdleConnections)

	tests := []struct {
		desc string
		path string
		body []byte // request body, streamed up by the gateway
	}{
		{desc: "content-length", path: "/fixed"},
		{desc: "chunked", path: "/chunked"},
		{desc: "upload echoed", path: "/echo", body: data},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			req := newGet(gw.addr, tt.path)
			if tt.body != nil {
				req.Header.SetMethod(fasthttp.MethodPost)
				req.SetBody(tt.body)
			}
			var resp fasthttp.Response
			if err := down.DoTimeout(req, &resp, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != 200 || !bytes.Equal(resp.Body(), data) {
				t.Fatalf("status %d, %d bytes; want 200 and the %d bytes sent", resp.StatusCode(), len(resp.Body()), len(data))
			}
			wantNoBusy(t, c)
			if st := c.Stats(); st.Idle != 1 {
				t.Errorf("stats = %+v, want the upstream connection idle", st)
			}
		})
	}
}

// TestProxyClientDisconnect: a downstream client that goes away in the
// middle of a download makes fasthttp.Server close the body stream, which
// closes the upstream connection: nothing leaks, nothing stays busy.
func TestProxyClientDisconnect(t *testing.T) {
	const size = 256 << 20
	u := startServer(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyStream(&patternReader{size: size}, size)
	})
	c := newClient(t, Settings{Addr: u.addr})
	gw := startGateway(t, c)

	conn, err := net.Dial("tcp", gw.addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET /big HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, conn, 1<<20); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Busy != 1 {
		t.Fatalf("stats mid-download = %+v, want 1 busy", st)
	}
	conn.Close()
	eventually(t, "the upstream connection to be closed", func() bool { return c.Stats() == (Stats{}) })
	eventually(t, "the upstream to see the close", func() bool { return u.srv.GetOpenConnectionsCount() == 0 })
}

// TestStreamHugeBody streams 1 GiB (256 MiB under -race) through a
// generated reader; memory must not grow with it.
func TestStreamHugeBody(t *testing.T) {
	size := int64(1 << 30)
	if raceEnabled || testing.Short() {
		size = 256 << 20
	}
	u := startServer(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyStream(&patternReader{size: size}, int(size))
	})
	c := newClient(t, Settings{Addr: u.addr, ReadTimeout: 5 * time.Second})
	runtime.GC()
	start := time.Now()
	var resp fasthttp.Response
	if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	w := &memChecker{every: 64 << 20}
	n, err := io.Copy(w, resp.BodyStream())
	if err != nil || n != size {
		t.Fatalf("copied %d bytes, %v; want %d", n, err, size)
	}
	if w.bad != 0 {
		t.Fatalf("body differs at byte %d", w.bad-1)
	}
	if err := resp.CloseBodyStream(); err != nil {
		t.Fatal(err)
	}
	const limit = 64 << 20
	if w.maxHeap > limit {
		t.Errorf("HeapInuse reached %d MiB, want under %d MiB", w.maxHeap>>20, limit>>20)
	}
	if d := time.Since(start); d > 2*time.Minute {
		t.Errorf("took %v", d)
	}
	t.Logf("%d MiB in %v, max HeapInuse %d MiB", size>>20, time.Since(start).Round(time.Millisecond), w.maxHeap>>20)
	if st := c.Stats(); st != (Stats{Open: 1, Idle: 1}) {
		t.Errorf("stats = %+v, want the connection back in the pool", st)
	}
}

// memChecker checks the pattern and samples HeapInuse every so many bytes.
type memChecker struct {
	patternChecker
	every, next int64
	maxHeap     uint64
}

func (w *memChecker) Write(p []byte) (int, error) {
	n, err := w.patternChecker.Write(p)
	if w.off >= w.next {
		w.next += w.every
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.maxHeap = max(w.maxHeap, ms.HeapInuse)
	}
	return n, err
}
