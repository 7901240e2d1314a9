package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// An idle keep-alive connection holds nothing but its socket.
//
// fasthttp, with request body streaming on, keeps a connection's read
// buffer (server.max_header_bytes) and its RequestCtx between requests,
// and its goroutine waits for the next request on the stack the last one
// grew. The idle listener takes a connection that stays idle out of
// fasthttp: when fasthttp, between requests, waits for the next one, the
// connection waits at most restAfter of fasthttp's idle timeout; if
// nothing came by then, it answers end of file, so fasthttp's serving of
// it ends and its buffers go back to their pools, and its Close does not
// close it but parks it. A new goroutine, whose stack is small, waits
// for the next request's first bytes with no buffer (for the rest of the
// idle timeout), reads them into a buffer taken from a pool for the read,
// and serves the connection again with fasthttp's ServeConn, which reads
// those bytes first. A plain socket is waited on through its RawConn, so
// that resuming costs no system call more than fasthttp's own wait; a
// TLS connection is read one byte ahead. A busy connection (requests
// closer than restAfter) stays in fasthttp and costs nothing more.
//
// fasthttp's limits on connections would count a parked connection as
// closed, so the listener keeps them itself: server.concurrency and
// server.max_conns_per_ip count every open connection, idle ones
// included, as before.

// restAfter is how long a keep-alive connection waits for its next
// request in fasthttp, holding its buffers, before it is parked.
const restAfter = 250 * time.Millisecond

// Connection states, in idleConn.state.
const (
	connServing uint32 = iota // fasthttp serves it, or it is hijacked
	connIdle                  // fasthttp is done with a request and waits for the next
	connLeaving               // fasthttp read end of file for the next request and lets go
	connParked                // its own goroutine waits for the next request
	connClosed
)

// idleListener wraps the listener Serve was given; see above. Safe for
// concurrent use.
type idleListener struct {
	net.Listener
	srv   *fasthttp.Server
	log   *slog.Logger
	bufs  sync.Pool // *[]byte of the server's read buffer size, for a parked connection's first read
	limit int       // most connections open at once; 0: no limit
	perIP int       // most connections open at once from one address; 0: no limit
	// rest is how long a connection waits in fasthttp for its next
	// request before it is parked: restAfter, or what a benchmark sets;
	// 0 leaves idle connections in fasthttp, as before.
	rest time.Duration
	// idle is the server's idle timeout: fasthttp sets each wait for a
	// next request's read deadline that far ahead.
	idle time.Duration

	mu       sync.Mutex
	conns    map[*idleConn]struct{}
	addrs    map[netip.Addr]int
	closed   bool
	serving  sync.WaitGroup // parked connections being served again
	lastWarn time.Time
}

func newIdleListener(ln net.Listener, srv *fasthttp.Server, log *slog.Logger, limit, perIP int) *idleListener {
	l := &idleListener{Listener: ln, srv: srv, log: log, limit: limit, perIP: perIP, rest: restAfter,
		conns: make(map[*idleConn]struct{}), addrs: make(map[netip.Addr]int)}
	if l.idle = srv.IdleTimeout; l.idle == 0 {
		l.idle = srv.ReadTimeout // as fasthttp's idleTimeout
	}
	size := srv.ReadBufferSize
	l.bufs.New = func() any { b := make([]byte, size); return &b }
	return l
}

// Accept returns the next connection within the limits, wrapped so that
// it can leave fasthttp while idle. Connections over a limit are answered
// as fasthttp answers them (503 over server.concurrency, 429 over
// server.max_conns_per_ip; TLS ones closed without an answer) and closed.
func (l *idleListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c = yielding(c)
		ic, status := l.track(c)
		if ic != nil {
			return ic.wrap(), nil
		}
		l.reject(c, status)
	}
}

// track registers c, or returns the status refusing it.
func (l *idleListener) track(c net.Conn) (*idleConn, int) {
	var addr netip.Addr
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			addr = a.Unmap() // as httpx.PeerAddr has it: no zone
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit > 0 && len(l.conns) >= l.limit {
		return nil, fasthttp.StatusServiceUnavailable
	}
	if l.perIP > 0 && addr.IsValid() {
		if l.addrs[addr] >= l.perIP {
			return nil, fasthttp.StatusTooManyRequests
		}
		l.addrs[addr]++
	}
	ic := &idleConn{Conn: c, ln: l, addr: addr}
	ic.parkFn = ic.park
	if sc, ok := c.(syscall.Conn); ok && isPlainTCP(c) {
		ic.raw, _ = sc.SyscallConn()
		ic.readable = ic.onReadable
	}
	l.conns[ic] = struct{}{}
	return ic, 0
}

// untrack stops counting c for server.concurrency: it is closed, or
// hijacked (a tunnel, which fasthttp did not count either).
func (l *idleListener) untrack(c *idleConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// forget stops counting c, closed, at all.
func (l *idleListener) forget(c *idleConn) {
	l.mu.Lock()
	delete(l.conns, c)
	if l.perIP > 0 && c.addr.IsValid() {
		if n := l.addrs[c.addr] - 1; n > 0 {
			l.addrs[c.addr] = n
		} else {
			delete(l.addrs, c.addr)
		}
	}
	l.mu.Unlock()
}

var (
	msgOverConcurrency = "The connection cannot be served because Server.Concurrency limit exceeded"
	msgOverPerIP       = "The number of connections from your ip exceeds MaxConnsPerIP"
)

// reject answers a connection over a limit as fasthttp would, and closes it.
func (l *idleListener) reject(c net.Conn, status int) {
	msg := msgOverConcurrency
	if status == fasthttp.StatusTooManyRequests {
		msg = msgOverPerIP
	}
	if _, isTLS := c.(*tls.Conn); !isTLS {
		var resp fasthttp.Response
		resp.SetStatusCode(status)
		resp.SetConnectionClose()
		resp.Header.SetContentType("text/plain")
		resp.SetBodyString(msg)
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		w := bufio.NewWriter(c)
		if resp.Write(w) == nil {
			_ = w.Flush()
		}
	}
	_ = c.Close()
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.mu.Lock()
		warn := time.Since(l.lastWarn) > time.Minute
		if warn {
			l.lastWarn = time.Now()
		}
		l.mu.Unlock()
		if warn {
			l.log.Debug("gateway: connection refused", "status", status, "reason", msg, "remote", c.RemoteAddr().String())
		}
	}
}

// Close stops accepting and closes the parked connections; fasthttp's
// Shutdown waits for the others. Wait, after it, for parked connections
// whose next request was already being served again.
func (l *idleListener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	parked := make([]*idleConn, 0, len(l.conns))
	for c := range l.conns {
		parked = append(parked, c)
	}
	l.mu.Unlock()
	for _, c := range parked {
		if c.state.CompareAndSwap(connParked, connClosed) {
			_ = c.shut()
		}
	}
	return err
}

// enter counts a parked connection going back to fasthttp; false after
// Close.
func (l *idleListener) enter() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.serving.Add(1)
	return true
}

// wait waits until the connections served again after Close are done,
// or ctx ends.
func (l *idleListener) wait(done <-chan struct{}) error {
	ch := make(chan struct{})
	go func() { l.serving.Wait(); close(ch) }()
	select {
	case <-ch:
		return nil
	case <-done:
		return errors.New("gateway: connections still being served")
	}
}

// idleConn is a client connection that leaves fasthttp while idle.
type idleConn struct {
	net.Conn
	ln    *idleListener
	self  net.Conn        // what fasthttp is given: c, or its idleTLSConn
	raw   syscall.RawConn // set for a plain TCP socket
	addr  netip.Addr
	state atomic.Uint32
	// inServe is set while park has fasthttp serve the connection. rest
	// is set while fasthttp waits for the next request with the deadline
	// shortened to restAfter, rdl being its own. The three belong to the
	// goroutine serving the connection.
	inServe bool
	rest    bool
	rdl     time.Time
	// ahead is what was read for the next request before fasthttp was
	// given the connection again; buf is its pooled buffer, if any.
	ahead []byte
	buf   *[]byte
	one   [1]byte
	once  sync.Once
	// parkFn is park and readable onReadable, each made once so that
	// neither allocates per request; rn and rerr are what it read.
	parkFn   func()
	readable func(fd uintptr) bool
	rn       int
	rerr     error
	// The deadlines armed on the socket, and the read deadline fasthttp
	// set while serving a request, armed only when a read comes (see
	// SetReadDeadline). They belong to the goroutine serving the
	// connection until direct is set: after SetDeadline, which fasthttp
	// calls when it hands the connection over (a hijack), every deadline
	// goes straight to the socket, from whichever goroutine sets it.
	rdArmed, wdArmed time.Time
	rdWant           time.Time
	rdDeferred       bool
	direct           bool
}

// idleTLSConn is an idleConn over a *tls.Conn: fasthttp and the handler
// see it as TLS (ConnectionState).
type idleTLSConn struct {
	*idleConn
	tc *tls.Conn
}

// Handshake arms a read deadline set before it first: the handshake
// reads the socket without Read.
func (c *idleTLSConn) Handshake() error {
	if err := c.armDeferred(); err != nil {
		return err
	}
	return c.tc.Handshake()
}

func (c *idleTLSConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

func (c *idleConn) wrap() net.Conn {
	c.self = c
	if tc, ok := c.Conn.(*tls.Conn); ok {
		c.self = &idleTLSConn{idleConn: c, tc: tc}
	}
	return c.self
}

// connState is the fasthttp server's ConnState hook: it marks a
// connection idle between requests (before fasthttp sets the deadline of
// its wait for the next one), and stops counting a hijacked one for
// server.concurrency.
func connState(c net.Conn, st fasthttp.ConnState) {
	var ic *idleConn
	switch cc := c.(type) {
	case *idleConn:
		ic = cc
	case *idleTLSConn:
		ic = cc.idleConn
	default:
		return
	}
	switch st {
	case fasthttp.StateIdle:
		ic.state.CompareAndSwap(connServing, connIdle)
	case fasthttp.StateActive:
		ic.state.CompareAndSwap(connIdle, connServing)
	case fasthttp.StateHijacked:
		ic.ln.untrack(ic)
	}
}

// PeerAddr is the client's address, as accepted (httpx.Peered).
func (c *idleConn) PeerAddr() netip.Addr { return c.addr }

// Read returns what was read ahead first. fasthttp's read for the next
// request of an idle connection waits at most restAfter (SetReadDeadline)
// and then gets end of file, with fasthttp's own deadline set again for
// the parked connection's wait.
func (c *idleConn) Read(p []byte) (int, error) {
	if len(c.ahead) > 0 {
		n := copy(p, c.ahead)
		c.ahead = c.ahead[n:]
		if len(c.ahead) == 0 {
			c.ahead = nil
			if c.buf != nil {
				c.ln.bufs.Put(c.buf)
				c.buf = nil
			}
		}
		return n, nil
	}
	if err := c.armDeferred(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if err != nil && c.state.Load() == connIdle && isTimeoutErr(err) && c.rest {
		if c.state.CompareAndSwap(connIdle, connLeaving) {
			c.rest = false
			if c.Conn.SetReadDeadline(c.rdl) == nil {
				c.rdArmed = c.rdl
			}
			return 0, io.EOF
		}
	}
	return n, err
}

// Close parks a connection fasthttp lets go while idle, and closes any
// other.
func (c *idleConn) Close() error {
	if c.state.CompareAndSwap(connLeaving, connParked) {
		if !c.inServe {
			go c.parkFn() // fasthttp's worker served it
		}
		return nil
	}
	c.state.Store(connClosed)
	return c.shut()
}

// SyscallConn is the socket's RawConn, nil when it is not a plain TCP
// socket: a tunnel waits on it with no buffer.
func (c *idleConn) SyscallConn() (syscall.RawConn, error) {
	if c.raw == nil {
		return nil, errors.ErrUnsupported
	}
	return c.raw, nil
}

// CloseWrite half closes the connection, as a tunnel does.
func (c *idleConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

func (c *idleConn) shut() error {
	err := net.ErrClosed
	c.once.Do(func() {
		err = c.Conn.Close()
		c.ln.forget(c)
	})
	return err
}

// park waits for the connection's next request and has fasthttp serve
// it (and those that follow closer than restAfter) on this goroutine; when
// fasthttp lets go of the connection again, it parks on a new goroutine,
// and this one, whose stack the requests grew, ends. It ends too when the
// connection closes or is hijacked.
func (c *idleConn) park() {
	if !c.readAhead() || !c.state.CompareAndSwap(connParked, connServing) || !c.ln.enter() {
		c.state.Store(connClosed)
		_ = c.shut()
		if c.buf != nil {
			c.ln.bufs.Put(c.buf)
			c.buf, c.ahead = nil, nil
		}
		return
	}
	c.inServe = true
	_ = c.ln.srv.ServeConn(c.self)
	c.inServe = false
	c.ln.serving.Done()
	if c.state.Load() == connParked {
		go c.parkFn()
	}
}

// readAhead waits for the next request's first bytes, under the read
// deadline fasthttp set for the idle wait, and keeps them in ahead.
// False: the connection ended or stayed idle too long.
func (c *idleConn) readAhead() bool {
	if c.raw == nil {
		n, err := c.Conn.Read(c.one[:])
		if n == 0 || (err != nil && !errors.Is(err, io.EOF)) {
			return false
		}
		c.ahead = c.one[:n]
		return true
	}
	c.rn, c.rerr = 0, nil
	if err := c.raw.Read(c.readable); err != nil || c.rerr != nil || c.rn <= 0 {
		if c.buf != nil {
			c.ln.bufs.Put(c.buf)
			c.buf = nil
		}
		return false
	}
	c.ahead = (*c.buf)[:c.rn]
	return true
}

// onReadable reads the socket into a buffer taken for the read, or asks
// to wait for it to be readable when it has nothing (EAGAIN); the read
// comes first, so a wake-up is never lost.
func (c *idleConn) onReadable(fd uintptr) bool {
	bp := c.ln.bufs.Get().(*[]byte)
	n, err := syscall.Read(int(fd), *bp)
	for err == syscall.EINTR {
		n, err = syscall.Read(int(fd), *bp)
	}
	if err == syscall.EAGAIN {
		c.ln.bufs.Put(bp)
		return false
	}
	c.rn, c.rerr = n, err
	if n > 0 {
		c.buf = bp
	} else {
		c.ln.bufs.Put(bp)
	}
	return true
}

// open is the number of connections open, idle ones included.
func (l *idleListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// parked is the number of connections parked.
func (l *idleListener) parked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for c := range l.conns {
		if c.state.Load() == connParked {
			n++
		}
	}
	return n
}
