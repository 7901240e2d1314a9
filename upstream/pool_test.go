package upstream

import (
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestKeepAliveReuse(t *testing.T) {
	big := pattern(200 << 10)
	u := startServer(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/big" {
			ctx.SetBody(big)
			return
		}
		ctx.SetBodyString("small")
	})
	c := newClient(t, Settings{Addr: u.addr})
	const n = 20
	for i := range n {
		path := "/small"
		if i%2 == 1 {
			path = "/big"
		}
		var resp fasthttp.Response
		if err := c.Do(newGet(u.addr, path), &resp, deadline(5e9)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if _, _, err := readBody(t, &resp); err != nil {
			t.Fatalf("request %d body: %v", i, err)
		}
	}
	if got := u.conns.Load(); got != 1 {
		t.Errorf("upstream saw %d connections for %d sequential requests, want 1", got, n)
	}
	if st := c.Stats(); st != (Stats{Open: 1, Idle: 1}) {
		t.Errorf("stats = %+v, want 1 open and idle", st)
	}
}

// holdBody starts a request whose streamed body stays open, keeping its
// connection busy until the returned function closes it.
func holdBody(t *testing.T, c *Client, addr string) (release func(readAll bool)) {
	t.Helper()
	var resp fasthttp.Response
	if err := c.Do(newGet(addr, "/big"), &resp, deadline(5e9)); err != nil {
		t.Fatal(err)
	}
	if !resp.IsBodyStream() {
		t.Fatal("want a streamed body")
	}
	return func(readAll bool) {
		if readAll {
			_, _ = io.Copy(io.Discard, resp.BodyStream())
		}
		_ = resp.CloseBodyStream()
	}
}

func TestPoolExhausted(t *testing.T) {
	big := pattern(1 << 20)
	u := startServer(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBody(big) })
	tests := []struct {
		desc     string
		give     time.Duration // ConnWaitTimeout
		deadline time.Duration
		want     time.Duration // minimum wait
	}{
		{desc: "no wait", give: 0, deadline: 5 * time.Second},
		{desc: "wait times out", give: 50 * time.Millisecond, deadline: 5 * time.Second, want: 50 * time.Millisecond},
		{desc: "deadline before wait timeout", give: 5 * time.Second, deadline: 60 * time.Millisecond, want: 60 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := newClient(t, Settings{Addr: u.addr, MaxConns: 1, ConnWaitTimeout: tt.give})
			release := holdBody(t, c, u.addr)
			defer release(false)
			start := time.Now()
			var resp fasthttp.Response
			err := c.Do(newGet(u.addr, "/"), &resp, deadline(tt.deadline))
			elapsed := time.Since(start)
			if err != ErrPoolExhausted || KindOf(err) != PoolExhausted {
				t.Fatalf("Do = %v, want ErrPoolExhausted", err)
			}
			if elapsed < tt.want || elapsed > tt.want+time.Second {
				t.Errorf("Do returned after %v, want about %v", elapsed, tt.want)
			}
			if st := c.Stats(); st != (Stats{Open: 1, Busy: 1}) {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

// TestPoolWaiterHandoff: a waiting Do gets the connection released by a
// finished body, or the slot of a closed one.
func TestPoolWaiterHandoff(t *testing.T) {
	big := pattern(1 << 20)
	tests := []struct {
		desc      string
		readAll   bool  // the held body is read to its end (connection reused)
		wantConns int64 // connections the upstream saw
	}{
		{desc: "connection handed over", readAll: true, wantConns: 1},
		{desc: "slot handed over", readAll: false, wantConns: 2},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			u := startServer(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBody(big) })
			c := newClient(t, Settings{Addr: u.addr, MaxConns: 1, ConnWaitTimeout: 5 * time.Second})
			release := holdBody(t, c, u.addr)
			errc := make(chan error, 1)
			go func() {
				var resp fasthttp.Response
				err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.BodyStream())
					_ = resp.CloseBodyStream()
				}
				errc <- err
			}()
			eventually(t, "a waiter", func() bool { return c.Stats().Waiting == 1 })
			release(tt.readAll)
			if err := <-errc; err != nil {
				t.Fatalf("waiting Do: %v", err)
			}
			if got := u.conns.Load(); got != tt.wantConns {
				t.Errorf("upstream saw %d connections, want %d", got, tt.wantConns)
			}
			if st := c.Stats(); st != (Stats{Open: 1, Idle: 1}) {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestMaxIdleConns(t *testing.T) {
	big := pattern(1 << 20)
	u := startServer(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBody(big) })
	c := newClient(t, Settings{Addr: u.addr, MaxConns: 4, MaxIdleConns: 1})
	var releases []func(bool)
	for range 3 {
		releases = append(releases, holdBody(t, c, u.addr))
	}
	if st := c.Stats(); st != (Stats{Open: 3, Busy: 3}) {
		t.Fatalf("stats = %+v", st)
	}
	for _, r := range releases {
		r(true)
	}
	if st := c.Stats(); st != (Stats{Open: 1, Idle: 1}) {
		t.Errorf("stats = %+v, want one idle connection", st)
	}
}

func TestJanitorClosesIdle(t *testing.T) {
	u := startServer(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	c := newClient(t, Settings{Addr: u.addr, IdleTimeout: 30 * time.Millisecond})
	var resp fasthttp.Response
	if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Idle != 1 {
		t.Fatalf("stats = %+v, want 1 idle", st)
	}
	eventually(t, "the janitor to close the idle connection", func() bool { return c.Stats().Open == 0 })
	eventually(t, "the upstream to see the close", func() bool { return u.srv.GetOpenConnectionsCount() == 0 })
}

func TestIdleTooOldNotReused(t *testing.T) {
	u := startServer(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	c := newClient(t, Settings{Addr: u.addr, IdleTimeout: time.Hour})
	var resp fasthttp.Response
	if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.idle[0].lastUsed = time.Now().Add(-2 * time.Hour) // as if the janitor had not run yet
	c.mu.Unlock()
	if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); err != nil {
		t.Fatal(err)
	}
	if got := u.conns.Load(); got != 2 {
		t.Errorf("upstream saw %d connections, want 2", got)
	}
}

func TestClose(t *testing.T) {
	big := pattern(1 << 20)
	u := startServer(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBody(big) })
	c, err := New(Settings{Addr: u.addr, MaxConns: 2, ConnWaitTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	releaseIdle := holdBody(t, c, u.addr)
	releaseIdle(true) // one idle connection
	r1 := holdBody(t, c, u.addr)
	r2 := holdBody(t, c, u.addr)
	var wg sync.WaitGroup
	var waitErr error
	wg.Go(func() {
		var resp fasthttp.Response
		waitErr = c.Do(newGet(u.addr, "/"), &resp, deadline(5e9))
	})
	eventually(t, "a waiter", func() bool { return c.Stats().Waiting == 1 })

	for range 2 {
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	wg.Wait()
	if waitErr != ErrClosed {
		t.Errorf("waiting Do = %v, want ErrClosed", waitErr)
	}
	var resp fasthttp.Response
	if err := c.Do(newGet(u.addr, "/"), &resp, deadline(5e9)); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close = %v, want ErrClosed", err)
	}
	if st := c.Stats(); st != (Stats{Open: 2, Busy: 2}) {
		t.Errorf("stats after Close = %+v, want the 2 busy connections", st)
	}
	r1(true)
	r2(false)
	if st := c.Stats(); st != (Stats{}) {
		t.Errorf("stats after releasing = %+v, want none", st)
	}
	eventually(t, "the upstream to see the closes", func() bool { return u.srv.GetOpenConnectionsCount() == 0 })
}

// TestConcurrentDo: many goroutines share a small pool; every request
// succeeds, connections are handed over rather than re-dialed, and the
// pool ends quiet.
func TestConcurrentDo(t *testing.T) {
	big := pattern(300 << 10)
	u := startServer(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/big" {
			ctx.SetBody(big)
			return
		}
		ctx.SetBodyString("small")
	})
	const maxConns = 3
	c := newClient(t, Settings{Addr: u.addr, MaxConns: maxConns, ConnWaitTimeout: 10 * time.Second})
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			var resp fasthttp.Response
			for i := range 40 {
				path := "/small"
				if (g+i)%3 == 0 {
					path = "/big"
				}
				if err := c.Do(newGet(u.addr, path), &resp, deadline(10*time.Second)); err != nil {
					errc <- err
					return
				}
				if resp.IsBodyStream() {
					n, err := io.Copy(io.Discard, resp.BodyStream())
					_ = resp.CloseBodyStream()
					if err != nil || n != int64(len(big)) {
						errc <- errors.Join(err, errors.New("short body"))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if st := c.Stats(); st.Busy != 0 || st.Waiting != 0 || st.Open > maxConns || st.Open != st.Idle {
		t.Errorf("stats = %+v", st)
	}
	if got := u.conns.Load(); got > maxConns {
		t.Errorf("upstream saw %d connections, want at most %d", got, maxConns)
	}
}
