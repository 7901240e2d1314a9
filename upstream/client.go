package upstream

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Settings configure a Client. Every zero value stands for the default
// given in the field's comment.
type Settings struct {
	// Addr is the upstream's "host:port". Required.
	Addr string
	// MaxConns caps open connections, idle and busy (and being dialed).
	// Zero means 512.
	MaxConns int
	// MaxIdleConns caps the idle pool; a connection released while it is
	// full is closed. Zero means MaxConns.
	MaxIdleConns int
	// ConnectTimeout bounds one dial. Zero means 5s.
	ConnectTimeout time.Duration
	// ReadTimeout bounds each read of a streamed body; it also bounds the
	// response head when Do is called without a deadline. Zero means 60s.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of the request to the connection (the
	// request's deadline applies too). Zero means 60s.
	WriteTimeout time.Duration
	// IdleTimeout: pooled connections idle longer than this are closed.
	// Zero means 60s.
	IdleTimeout time.Duration
	// MaxBufferedBody: a response whose Content-Length is at most this many
	// bytes is read whole into the Response and its connection freed before
	// Do returns; larger and unknown-length bodies are streamed. Zero means
	// 64 KiB; a negative value streams every body.
	MaxBufferedBody int
	// MaxResponseHeaderBytes is the size of each connection's read buffer,
	// which bounds the response head (and chunk-size and trailer lines).
	// Zero means 16 KiB.
	MaxResponseHeaderBytes int
	// ConnWaitTimeout: how long Do waits for a connection when MaxConns are
	// busy before returning ErrPoolExhausted. Zero means no wait.
	ConnWaitTimeout time.Duration
	// MaxResponseBody bounds a response body in bytes: a larger declared
	// Content-Length fails Do with ErrTooLarge before the body is read,
	// and a chunked or until-close body fails its read with ErrTooLarge
	// once it grows past the bound. Zero means no bound.
	MaxResponseBody int64
	// TLS, when set, makes every connection TLS with this configuration,
	// the handshake bounded by ConnectTimeout (and the request's
	// deadline). Its ServerName, when empty, is Addr's host. Share one
	// config among the Clients of an upstream so that they share its
	// session cache. Nil means plain TCP.
	TLS *tls.Config
}

const (
	defaultMaxConns        = 512
	defaultConnectTimeout  = 5 * time.Second
	defaultReadTimeout     = 60 * time.Second
	defaultWriteTimeout    = 60 * time.Second
	defaultIdleTimeout     = 60 * time.Second
	defaultMaxBufferedBody = 64 << 10
	defaultMaxHeaderBytes  = 16 << 10
	writeBufferSize        = 4 << 10
)

func (s Settings) withDefaults() (Settings, error) {
	var errs []error
	if s.Addr == "" {
		errs = append(errs, errors.New("upstream: Addr: required"))
	} else if _, _, err := net.SplitHostPort(s.Addr); err != nil {
		errs = append(errs, fmt.Errorf("upstream: Addr: must be host:port: %w", err))
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"MaxConns", int64(s.MaxConns)},
		{"MaxIdleConns", int64(s.MaxIdleConns)},
		{"ConnectTimeout", int64(s.ConnectTimeout)},
		{"ReadTimeout", int64(s.ReadTimeout)},
		{"WriteTimeout", int64(s.WriteTimeout)},
		{"IdleTimeout", int64(s.IdleTimeout)},
		{"MaxResponseHeaderBytes", int64(s.MaxResponseHeaderBytes)},
		{"ConnWaitTimeout", int64(s.ConnWaitTimeout)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("upstream: %s: must be >= 0", f.name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	if s.MaxConns == 0 {
		s.MaxConns = defaultMaxConns
	}
	if s.MaxIdleConns == 0 || s.MaxIdleConns > s.MaxConns {
		s.MaxIdleConns = s.MaxConns
	}
	if s.ConnectTimeout == 0 {
		s.ConnectTimeout = defaultConnectTimeout
	}
	if s.ReadTimeout == 0 {
		s.ReadTimeout = defaultReadTimeout
	}
	if s.WriteTimeout == 0 {
		s.WriteTimeout = defaultWriteTimeout
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = defaultIdleTimeout
	}
	if s.MaxBufferedBody == 0 {
		s.MaxBufferedBody = defaultMaxBufferedBody
	}
	if s.MaxResponseHeaderBytes == 0 {
		s.MaxResponseHeaderBytes = defaultMaxHeaderBytes
	}
	return s, nil
}

// Client sends requests to one upstream target over a pool of keep-alive
// connections. It is safe for concurrent use.
type Client struct {
	s Settings

	mu      sync.Mutex
	idle    []*conn   // LIFO: the warmest connection is on top
	waiters []*waiter // FIFO of Do calls waiting for a connection
	open    int       // idle + busy + dialing
	closed  bool

	conns sync.Pool // recycled *conn, each with its buffers

	// tls is Settings.TLS with its ServerName set; nil for plain TCP.
	tls *tls.Config
	// tlsErr is the error of the last failed TLS handshake, nil once one
	// succeeded after it.
	tlsErr atomic.Pointer[error]
	// dialErr is the error of the last failed dial (a refused connection,
	// a host name that does not resolve), nil once one succeeded after it.
	dialErr atomic.Pointer[error]
	// large: the last answer's body was larger than a connection's read
	// buffer, so the next answer's first read takes a block for the body
	// too (conn.readFirst). Upstreams answer alike from one request to the
	// next, and a small answer does not pay for the block.
	large atomic.Bool

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// Stats is a snapshot of a Client's pool.
type Stats struct {
	Open    int // connections open or being dialed (Idle + Busy)
	Idle    int // connections in the idle pool
	Busy    int // connections carrying a request or a streamed body
	Waiting int // Do calls waiting for a connection
}

// New returns a Client for s.Addr and starts its janitor goroutine, which
// Close stops. No connection is made until the first Do.
func New(s Settings) (*Client, error) {
	s, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{
		s:    s,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	if s.TLS != nil {
		c.tls = s.TLS
		if s.TLS.ServerName == "" {
			host, _, _ := net.SplitHostPort(s.Addr)
			c.tls = s.TLS.Clone() // the clone shares the session cache
			c.tls.ServerName = host
		}
	}
	go c.janitor(janitorPeriod(s.IdleTimeout))
	return c, nil
}

// LastTLSError is the error of the last failed TLS handshake with the
// upstream, nil when none failed since the last that succeeded (or the
// Client is plain). Do reports such a failure as ErrTLS; this says why.
func (c *Client) LastTLSError() error {
	if e := c.tlsErr.Load(); e != nil {
		return *e
	}
	return nil
}

// LastDialError is the error of the last failed dial to the upstream
// (connection refused, no such host, network unreachable), nil when none
// failed since the last that succeeded. Do reports such a failure as
// ErrConnect, or ErrTimeout past the deadline; this says why.
func (c *Client) LastDialError() error {
	if e := c.dialErr.Load(); e != nil {
		return *e
	}
	return nil
}

// Stats returns the current pool counts.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		Open:    c.open,
		Idle:    len(c.idle),
		Busy:    c.open - len(c.idle),
		Waiting: len(c.waiters),
	}
}

// Close closes the idle connections, fails waiting Do calls with ErrClosed
// and stops the janitor. Busy connections are closed when released, i.e.
// when their Do returns or their streamed body is closed. Later Do calls
// return ErrClosed. Close is safe to call more than once.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		idle := c.idle
		c.idle = nil
		c.open -= len(idle)
		for _, w := range c.waiters {
			w.err = ErrClosed
			w.ch <- struct{}{}
		}
		c.waiters = nil
		c.mu.Unlock()
		for _, pc := range idle {
			pc.closeNet()
		}
		close(c.stop)
		<-c.done
	})
	return nil
}

// Do sends req to the upstream as it is (Host, request URI and headers set
// by the caller; a body stream is sent with its Content-Length, or chunked
// when the length is unknown) and fills resp, which is reset first.
//
// deadline bounds connecting, writing the request and reading the response
// head, and the body when it is buffered; a zero deadline leaves them to
// ConnectTimeout, WriteTimeout and ReadTimeout. Reaching it gives ErrTimeout
// and closes the connection.
//
// A body with a Content-Length up to MaxBufferedBody is read into resp and
// the connection is back in the pool when Do returns. Any other body is set
// as resp's body stream: it must be read and closed (fasthttp.Server closes
// it after writing the response, and Response.Reset closes it); the
// connection goes back to the pool on Close if the body was read to its end.
//
// The connection-level parts of the response head are this package's
// business: resp.Header.ConnectionClose() is always false on return (the
// upstream's Connection: close, or HTTP/1.0 without keep-alive, closes the
// upstream connection after the response, not the caller's), and the
// status line's protocol is HTTP/1.1 even for an HTTP/1.0 upstream. Other
// hop-by-hop headers ([HopByHop]) are left to the caller.
//
// On error resp is reset and the error is one of the package's sentinels.
// The one retry Do makes by itself: when a connection taken from the idle
// pool fails before any byte of the response arrived (the upstream closed
// it while idle), the request is sent once more on a new connection, if it
// has no body stream and either nothing of it was written or it is
// [Idempotent], as Go's net/http transport does. Requests that may not be
// retried, and any request on a connection idle for a tenth of a second or
// more,
// are sent only on idle connections that pass a liveness check.
func (c *Client) Do(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) error {
	// Keep resp's body buffer, if it has one, for this response: a round
	// trip through fasthttp's calibrated pool can drop it and allocate.
	keep := resp.KeepBodyBuffer
	resp.KeepBodyBuffer = true
	resp.Reset()
	resp.KeepBodyBuffer = keep
	now := time.Now()
	if !deadline.IsZero() && !now.Before(deadline) {
		return ErrTimeout
	}
	replayable := !req.IsBodyStream()
	idem := replayable && Idempotent(&req.Header)
	pc, err := c.acquire(now, deadline, !idem)
	if err != nil {
		return err
	}
	retry, err := c.roundTrip(pc, req, resp, now, deadline, replayable, idem)
	if retry { // nothing of the response arrived: resp is untouched
		if pc, err = c.dial(deadline); err != nil { // into the slot the stale connection held
			return err
		}
		_, err = c.roundTrip(pc, req, resp, now, deadline, replayable, idem)
	}
	if err != nil {
		resp.Reset()
	}
	return err
}

var strHTTP11 = []byte("HTTP/1.1")

// hdrIdempotencyKey is the header of draft-ietf-httpapi-idempotency-key-header.
// The older X-Idempotency-Key does not count: it is not in the draft.
const hdrIdempotencyKey = "Idempotency-Key"

// Idempotent reports whether a request may be sent again after it may
// have reached the upstream: its method is idempotent (RFC 9110 section
// 9.2.2: GET, HEAD, PUT, DELETE, OPTIONS, TRACE) or it carries a
// non-empty Idempotency-Key header. It is the one rule for both the
// client's re-send on a stale connection and the gateway's retries on
// another target; whether the body can be sent again is the caller's
// concern.
func Idempotent(h *fasthttp.RequestHeader) bool {
	switch string(h.Method()) {
	case fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodPut,
		fasthttp.MethodDelete, fasthttp.MethodOptions, fasthttp.MethodTrace:
		return true
	}
	return len(h.Peek(hdrIdempotencyKey)) > 0
}

// roundTrip writes req on pc and reads the response head and, if buffered,
// the body. It disposes of pc in every case except retry, where pc's
// network connection is closed but its pool slot kept for redial. Its
// frame stays on the stack while the answer is awaited, so the writing
// and what follows the head are in send and afterHead, not inlined: the
// stack a request touches stays small (each of its cache lines costs a
// miss when the connection's goroutine comes back to it).
func (c *Client) roundTrip(pc *conn, req *fasthttp.Request, resp *fasthttp.Response,
	now, deadline time.Time, replayable, idem bool,
) (retry bool, err error) {
	if retry, err = c.send(pc, req, now, deadline, replayable, idem); err != nil {
		return retry, err
	}
	rdl := deadline
	if rdl.IsZero() {
		rdl = now.Add(c.s.ReadTimeout)
	}
	if err = pc.setReadDeadline(rdl, now); err != nil {
		return c.fail(pc, ErrReset, false)
	}
	if err = pc.readHead(resp); err != nil {
		if err == errNoResponse {
			err = ErrReset
			retry = pc.reused && replayable && idem
		}
		return c.fail(pc, err, retry)
	}
	return false, c.afterHead(pc, req, resp, now)
}

// send writes req on pc. On failure pc is disposed of as roundTrip says.
//
//go:noinline
func (c *Client) send(pc *conn, req *fasthttp.Request, now, deadline time.Time, replayable, idem bool) (retry bool, err error) {
	pc.beginWrite(now, deadline)
	if err = req.Write(pc.bw); err == nil {
		err = pc.bw.Flush()
	}
	if err == nil {
		pc.sent = true
		return false, nil
	}
	switch {
	case pc.werr == nil:
		err = ErrRequest // the request itself, not the connection
	case isTimeout(pc.werr):
		err = ErrTimeout
	default:
		err = ErrReset
		retry = pc.reused && replayable && (idem || pc.written == 0)
	}
	return c.fail(pc, err, retry)
}

// afterHead takes the answer's body once its head is read: into resp when
// it is short enough to buffer, else as resp's body stream, which gives
// pc back at its end. A buffered answer gives pc back (or closes it) here.
//
//go:noinline
func (c *Client) afterHead(pc *conn, req *fasthttp.Request, resp *fasthttp.Response, now time.Time) error {
	// Whether this connection is kept is decided here; the flag is cleared
	// so that it does not close the caller's own (downstream) connection.
	keepAlive := !resp.Header.ConnectionClose() && !req.Header.ConnectionClose()
	resp.Header.ResetConnectionClose()
	if !resp.Header.IsHTTP11() {
		resp.Header.SetProtocol(strHTTP11) // a proxy sends its own version
	}
	code := resp.Header.StatusCode()
	if req.Header.IsHead() || code == fasthttp.StatusNoContent || code == fasthttp.StatusNotModified {
		c.finish(pc, keepAlive, now)
		return nil
	}
	cl := resp.Header.ContentLength()
	if large := cl > c.s.MaxResponseHeaderBytes; large != c.large.Load() {
		c.large.Store(large)
	}
	if c.s.MaxResponseBody > 0 && int64(cl) > c.s.MaxResponseBody {
		_, err := c.fail(pc, ErrTooLarge, false)
		return err
	}
	if cl >= 0 && cl <= c.s.MaxBufferedBody {
		if err := resp.ReadBody(pc.br, 0); err != nil {
			if isTimeout(err) {
				err = ErrBodyTimeout
			} else {
				err = ErrBodyReset
			}
			_, err = c.fail(pc, err, false)
			return err
		}
		c.finish(pc, keepAlive, now)
		return nil
	}
	b := acquireBody(c, pc, cl, keepAlive, now)
	resp.SetBodyStream(b, max(cl, -1))
	return nil
}

// fail disposes of pc after a failed round trip and passes err on.
func (c *Client) fail(pc *conn, err error, retry bool) (bool, error) {
	if retry {
		pc.closeNet()
	} else {
		c.drop(pc)
	}
	return retry, err
}

// finish gives pc back to the pool after a complete response, or closes
// it if the response or request asked for that or bytes are left over.
func (c *Client) finish(pc *conn, keepAlive bool, now time.Time) {
	if keepAlive && pc.br.Buffered() == 0 && len(pc.over) == 0 {
		c.put(pc, now)
		return
	}
	c.drop(pc)
}

// isTimeout reports whether err, or an error it wraps, is a timeout.
func isTimeout(err error) bool {
	for err != nil {
		if te, ok := err.(interface{ Timeout() bool }); ok && te.Timeout() {
			return true
		}
		err = errors.Unwrap(err)
	}
	return false
}
