package upstream

import (
	"crypto/tls"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// waiter is a Do call waiting for a connection. It is handed either a
// connection (pc), a free slot to dial into (slot), or an error.
type waiter struct {
	ch   chan struct{} // capacity 1; signalled once, under Client.mu
	pc   *conn
	slot bool
	err  error
}

var waiterPool = sync.Pool{New: func() any { return &waiter{ch: make(chan struct{}, 1)} }}

// acquire returns a connection for one request: the warmest idle one that
// is still fresh (and passes the liveness probe if check is set), else a
// new one if fewer than MaxConns are open, else one freed within
// ConnWaitTimeout. Not inlined, so that its locals are not in Do's frame,
// which stays on the stack while the upstream answers.
//
//go:noinline
func (c *Client) acquire(now, deadline time.Time, check bool) (*conn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if n := len(c.idle); n > 0 {
			pc := c.idle[n-1]
			c.idle[n-1] = nil
			c.idle = c.idle[:n-1]
			c.mu.Unlock()
			if c.usable(pc, now, check) {
				pc.reused = true
				return pc, nil
			}
			c.drop(pc)
			continue
		}
		if c.open < c.s.MaxConns {
			c.open++
			c.mu.Unlock()
			return c.dial(deadline)
		}
		if c.s.ConnWaitTimeout <= 0 {
			c.mu.Unlock()
			return nil, ErrPoolExhausted
		}
		w := waiterPool.Get().(*waiter)
		c.waiters = append(c.waiters, w)
		c.mu.Unlock()
		return c.wait(w, now, deadline, check)
	}
}

// usable reports whether an idle connection may carry a request now.
// One idle for probeAfter or longer is probed whatever the request: a
// close from the upstream, or bytes it sent after its last answer, have
// arrived by then, and the connection is dropped before a request goes
// out on it (nginx and Envoy notice both while the connection waits, from
// their event loops). A connection in steady use comes back sooner and
// costs no system call; bytes an upstream sent after an answer, apart
// from it, are then read as the next request's answer.
func (c *Client) usable(pc *conn, now time.Time, check bool) bool {
	idle := now.Sub(pc.lastUsed)
	if idle >= c.s.IdleTimeout {
		return false
	}
	return !check && idle < probeAfter || pc.alive()
}

// probeAfter is how long a connection sits idle before its reuse is
// preceded by the liveness probe (a non-blocking peek). At a millisecond
// most requests of a route under moderate load paid for one, as a pool's
// connections take turns; at a tenth of a second only a pool with ten
// times more connections than requests per second does.
const probeAfter = 100 * time.Millisecond

// wait blocks until w is handed something or ConnWaitTimeout (or the
// deadline, if sooner) passes.
func (c *Client) wait(w *waiter, now, deadline time.Time, check bool) (*conn, error) {
	d := c.s.ConnWaitTimeout
	if !deadline.IsZero() {
		d = min(d, deadline.Sub(now))
	}
	t := fasthttp.AcquireTimer(d)
	select {
	case <-w.ch:
	case <-t.C:
		c.mu.Lock()
		if i := slices.Index(c.waiters, w); i >= 0 {
			c.waiters = slices.Delete(c.waiters, i, i+1)
			c.mu.Unlock()
			fasthttp.ReleaseTimer(t)
			waiterPool.Put(w)
			return nil, ErrPoolExhausted
		}
		c.mu.Unlock()
		<-w.ch // handed over just before the timeout
	}
	fasthttp.ReleaseTimer(t)
	pc, slot, err := w.pc, w.slot, w.err
	w.pc, w.slot, w.err = nil, false, nil
	waiterPool.Put(w)
	switch {
	case err != nil:
		return nil, err
	case slot:
		return c.dial(deadline)
	case c.usable(pc, now, check):
		pc.reused = true
		return pc, nil
	default:
		pc.closeNet() // keep its slot for a new connection
		return c.dial(deadline)
	}
}

// dial opens a connection in a slot already counted in c.open; on failure
// it frees the slot.
func (c *Client) dial(deadline time.Time) (*conn, error) {
	d := net.Dialer{Timeout: c.s.ConnectTimeout, Deadline: deadline}
	nc, err := d.Dial("tcp", c.s.Addr)
	if err != nil {
		c.dialFailed(err)
		c.mu.Lock()
		c.freeSlotLocked()
		c.mu.Unlock()
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return nil, ErrTimeout
		}
		return nil, ErrConnect
	}
	if c.dialErr.Load() != nil {
		c.dialErr.Store(nil)
	}
	if c.tls == nil {
		return c.newConn(nc, nc), nil
	}
	tc, err := c.handshake(nc, deadline)
	if err != nil {
		c.mu.Lock()
		c.freeSlotLocked()
		c.mu.Unlock()
		return nil, err
	}
	// The liveness probe peeks at the socket under TLS: an idle
	// connection has no record waiting either (a close_notify is one).
	return c.newConn(tc, nc), nil
}

// dialFailed records why a dial failed, for LastDialError. Not inlined,
// so that only a failed dial pays for keeping its error.
//
//go:noinline
func (c *Client) dialFailed(err error) {
	c.dialErr.Store(&err)
}

// handshake runs the TLS handshake on a new connection within
// ConnectTimeout and the request's deadline; on failure nc is closed.
// Not inlined, so that plain connections' dials keep a small frame.
//
//go:noinline
func (c *Client) handshake(nc net.Conn, deadline time.Time) (net.Conn, error) {
	now := time.Now()
	dl := now.Add(c.s.ConnectTimeout)
	if !deadline.IsZero() && deadline.Before(dl) {
		dl = deadline
	}
	tc := tls.Client(nc, c.tls)
	err := nc.SetDeadline(dl)
	if err == nil {
		err = tc.Handshake()
	}
	if err == nil {
		err = nc.SetDeadline(time.Time{})
	}
	if err != nil {
		_ = nc.Close()
		c.tlsErr.Store(&err)
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return nil, ErrTimeout
		}
		return nil, ErrTLS
	}
	if c.tlsErr.Load() != nil {
		c.tlsErr.Store(nil)
	}
	return tc, nil
}

// put gives a healthy connection back: to the first waiter, else to the
// top of the idle stack, else (pool full or client closed) it is closed.
func (c *Client) put(pc *conn, now time.Time) {
	pc.lastUsed = now
	pc.reused = false
	c.mu.Lock()
	if !c.closed {
		if len(c.waiters) > 0 {
			w := c.waiters[0]
			c.waiters = slices.Delete(c.waiters, 0, 1)
			w.pc = pc
			w.ch <- struct{}{}
			c.mu.Unlock()
			return
		}
		if len(c.idle) < c.s.MaxIdleConns {
			c.idle = append(c.idle, pc)
			c.mu.Unlock()
			return
		}
	}
	c.freeSlotLocked()
	c.mu.Unlock()
	pc.closeNet()
}

// drop closes a connection that may not be reused and frees its slot.
func (c *Client) drop(pc *conn) {
	pc.closeNet()
	c.mu.Lock()
	c.freeSlotLocked()
	c.mu.Unlock()
}

// freeSlotLocked hands a freed slot to the first waiter, or forgets it.
func (c *Client) freeSlotLocked() {
	if !c.closed && len(c.waiters) > 0 {
		w := c.waiters[0]
		c.waiters = slices.Delete(c.waiters, 0, 1)
		w.slot = true
		w.ch <- struct{}{}
		return
	}
	c.open--
}

// janitorPeriod is how often idle connections are checked: a quarter of
// IdleTimeout, between 1ms and 1s.
func janitorPeriod(idle time.Duration) time.Duration {
	return min(max(idle/4, time.Millisecond), time.Second)
}

// janitor closes connections idle for IdleTimeout or longer until Close.
func (c *Client) janitor(period time.Duration) {
	defer close(c.done)
	t := time.NewTicker(period)
	defer t.Stop()
	var stale []*conn
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			stale = c.evict(now, stale[:0])
			for i, pc := range stale {
				pc.closeNet()
				stale[i] = nil
			}
		}
	}
}

// evict removes idle connections unused since now-IdleTimeout from the
// stack, keeping the order of the rest, and appends them to dst.
func (c *Client) evict(now time.Time, dst []*conn) []*conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.idle[:0]
	for _, pc := range c.idle {
		if now.Sub(pc.lastUsed) >= c.s.IdleTimeout {
			dst = append(dst, pc)
			c.freeSlotLocked()
			continue
		}
		kept = append(kept, pc)
	}
	clear(c.idle[len(kept):])
	c.idle = kept
	return dst
}
