package gateway

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fastgate/gateway/metrics"
)

// Kinds of accept errors, as gateway_accept_errors_total labels them.
const (
	acceptEMFILE = "emfile" // the process ran out of file descriptors
	acceptENFILE = "enfile" // the system ran out of file descriptors
	acceptENOMEM = "enomem" // the kernel had no memory or buffers for it
	acceptOther  = "other"  // a connection that failed while being accepted
)

// Accept backs off as net/http does: 5ms after the first error, doubling
// up to 1s while the errors go on.
const (
	acceptMinDelay = 5 * time.Millisecond
	acceptMaxDelay = time.Second
)

// acceptErrors counts accept errors by kind, one child per kind resolved
// at start.
type acceptErrors struct {
	emfile, enfile, enomem, other prometheus.Counter
}

func newAcceptErrors(m *metrics.Metrics) *acceptErrors {
	return &acceptErrors{
		emfile: m.AcceptErrors(acceptEMFILE),
		enfile: m.AcceptErrors(acceptENFILE),
		enomem: m.AcceptErrors(acceptENOMEM),
		other:  m.AcceptErrors(acceptOther),
	}
}

// acceptKind names an accept error the listener recovers from by waiting
// ("" for any other, which ends Serve).
func acceptKind(err error) string {
	switch {
	case errors.Is(err, syscall.EMFILE):
		return acceptEMFILE
	case errors.Is(err, syscall.ENFILE):
		return acceptENFILE
	case errors.Is(err, syscall.ENOMEM), errors.Is(err, syscall.ENOBUFS):
		return acceptENOMEM
	case errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPROTO), errors.Is(err, syscall.EINTR):
		return acceptOther
	}
	return ""
}

func (a *acceptErrors) count(kind string) {
	switch kind {
	case acceptEMFILE:
		a.emfile.Inc()
	case acceptENFILE:
		a.enfile.Inc()
	case acceptENOMEM:
		a.enomem.Inc()
	default:
		a.other.Inc()
	}
}

// retryListener keeps accepting through errors a busy process recovers
// from. fasthttp ends Serve on any accept error but a timeout, so
// without it a flood of idle clients that takes the last file descriptor
// stops the gateway for good. The connections already open keep being
// served while it waits. An episode of errors is logged once when it
// begins and once when a connection is accepted again.
type retryListener struct {
	net.Listener
	errs *acceptErrors
	log  *slog.Logger

	closeOnce sync.Once
	closed    chan struct{}
}

func newRetryListener(ln net.Listener, errs *acceptErrors, log *slog.Logger) *retryListener {
	return &retryListener{Listener: ln, errs: errs, log: log, closed: make(chan struct{})}
}

// Accept waits for the next connection. fasthttp calls it from one
// goroutine per listener, so an episode lives within one call.
func (l *retryListener) Accept() (net.Conn, error) {
	var (
		delay time.Duration
		first time.Time
		n     int
	)
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			if n > 0 {
				l.log.Info("gateway: accepting connections again",
					"listen", l.Addr().String(), "errors", n, "after", time.Since(first).String())
			}
			return c, nil
		}
		kind := acceptKind(err)
		if kind == "" {
			return nil, err
		}
		l.errs.count(kind)
		if n == 0 {
			first = time.Now()
			l.log.Error("gateway: cannot accept connections; serving those open and retrying",
				"listen", l.Addr().String(), "kind", kind, "error", err.Error())
		}
		n++
		if delay == 0 {
			delay = acceptMinDelay
		} else if delay *= 2; delay > acceptMaxDelay {
			delay = acceptMaxDelay
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-l.closed:
			t.Stop()
			return nil, net.ErrClosed
		}
	}
}

// Close stops a wait between attempts and closes the listener.
func (l *retryListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitListener accepts at most n connections open at once; past that,
// Accept waits for one to close, and new clients wait in the listen
// backlog without taking a file descriptor.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	closeOnce sync.Once
	closed    chan struct{}
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), closed: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: l.release}, nil
}

func (l *limitListener) release() { <-l.slots }

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitConn gives its slot back when it is closed the first time.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
