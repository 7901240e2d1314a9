package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// DefaultHandshakeTimeout bounds a handshake when ListenerSettings leave
// it zero.
const DefaultHandshakeTimeout = 10 * time.Second

// ListenerSettings configure a Listener. The zero value is a 10-second
// handshake timeout, unbounded pending handshakes and no callback.
type ListenerSettings struct {
	// HandshakeTimeout is how long a client has from accept to a
	// finished handshake; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxPendingHandshakes caps the handshakes in progress at once; when
	// reached, the listener stops accepting until one ends, and the
	// kernel's backlog holds new clients. 0 means no cap.
	MaxPendingHandshakes int
	// OnHandshake, when set, is called after every handshake with its
	// state (nil on failure) and error (nil on success), for metrics. It
	// runs on the handshake's goroutine and must not block.
	OnHandshake func(state *tls.ConnectionState, err error)
}

// Listener accepts TLS connections whose handshake is already done. Each
// accepted connection shakes hands on its own goroutine under the
// handshake timeout, so a client that stalls, sends plain HTTP or
// garbage, or is refused (unknown name under strict SNI, no client
// certificate) is closed there and never reaches Accept, and never delays
// other clients. Accept returns *tls.Conn.
//
// crypto/tls itself bounds a handshake message, the client hello included,
// to 64 KiB (maxHandshake in crypto/tls/common.go): a larger one fails the
// handshake, so the Listener adds no size cap of its own.
//
// A Listener is safe for concurrent use. Close stops accepting, closes the
// connections still shaking hands and returns when their goroutines have
// ended.
type Listener struct {
	inner    net.Listener
	config   *tls.Config
	settings ListenerSettings

	ready     chan net.Conn // handshaken connections
	errs      chan error    // temporary errors of the inner Accept
	failed    chan struct{} // closed when the inner Accept failed for good
	failErr   error         // that failure, set before failed is closed
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	pending   chan struct{} // a slot per handshake in progress, nil without cap
	wg        sync.WaitGroup

	mu      sync.Mutex
	inHands map[net.Conn]struct{} // connections shaking hands, closed by Close
}

var _ net.Listener = (*Listener)(nil)

// NewListener starts accepting from inner and shaking hands with config.
// The Listener owns inner: Close closes it.
func NewListener(inner net.Listener, config *tls.Config, s ListenerSettings) *Listener {
	if s.HandshakeTimeout <= 0 {
		s.HandshakeTimeout = DefaultHandshakeTimeout
	}
	l := &Listener{
		inner:    inner,
		config:   config,
		settings: s,
		ready:    make(chan net.Conn),
		errs:     make(chan error),
		failed:   make(chan struct{}),
		done:     make(chan struct{}),
		inHands:  make(map[net.Conn]struct{}),
	}
	if s.MaxPendingHandshakes > 0 {
		l.pending = make(chan struct{}, s.MaxPendingHandshakes)
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// Accept returns the next connection whose handshake succeeded, or the
// inner listener's error. After Close it returns net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.failed:
		return nil, l.failErr
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Close stops the listener; see Listener.
func (l *Listener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.inner.Close()
		l.mu.Lock()
		for c := range l.inHands {
			_ = c.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
	return err
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	for {
		if l.pending != nil {
			select {
			case l.pending <- struct{}{}:
			case <-l.done:
				return
			}
		}
		c, err := l.inner.Accept()
		if err != nil {
			l.release()
			if isClosed(l.done) {
				return
			}
			if !isTemporary(err) {
				// The inner listener is finished: every Accept returns err.
				l.failErr = err
				close(l.failed)
				return
			}
			// A temporary error (out of file descriptors) is for Accept's
			// caller to back off from, as it would without this wrapper.
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			continue
		}
		if !l.track(c) {
			_ = c.Close()
			l.release()
			return
		}
		l.wg.Add(1)
		go l.handshake(c)
	}
}

func (l *Listener) handshake(raw net.Conn) {
	defer l.wg.Done()
	defer l.release()
	tc := tls.Server(raw, l.config)
	ctx, cancel := context.WithTimeout(context.Background(), l.settings.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	l.untrack(raw)
	if l.settings.OnHandshake != nil {
		if err != nil {
			l.settings.OnHandshake(nil, err)
		} else {
			st := tc.ConnectionState()
			l.settings.OnHandshake(&st, nil)
		}
	}
	if err != nil {
		_ = raw.Close()
		return
	}
	select {
	case l.ready <- tc:
	case <-l.done:
		_ = tc.Close()
	}
}

// track records a connection in its handshake; false after Close.
func (l *Listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if isClosed(l.done) {
		return false
	}
	l.inHands[c] = struct{}{}
	return true
}

func (l *Listener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.inHands, c)
	l.mu.Unlock()
}

func (l *Listener) release() {
	if l.pending != nil {
		<-l.pending
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// isTemporary reports errors worth accepting again after, such as
// EMFILE or a timeout; net.Error's Temporary is deprecated but is what
// package net reports for those.
func isTemporary(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
