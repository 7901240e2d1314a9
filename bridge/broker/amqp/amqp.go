package amqp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/fastgate/gateway/bridge/broker"
)

// Defaults of Settings' zero values.
const (
	DefaultURL            = "amqp://guest:guest@127.0.0.1:5672/"
	DefaultConnectionName = "gateway"
	DefaultConnectTimeout = 5 * time.Second
	DefaultHeartbeat      = 10 * time.Second
	DefaultChannels       = 8
	DefaultMinBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
)

// Settings configures a Publisher. Every zero value has a meaning, given
// with each field.
type Settings struct {
	// URL is the AMQP 0-9-1 URI of the broker, with user, password and
	// vhost: amqp://user:pass@host:5672/vhost, or amqps:// for TLS.
	// "" means DefaultURL (amqp://guest:guest@127.0.0.1:5672/).
	URL string
	// TLS configures amqps:// connections. nil means the system's roots
	// and the URL's host as the server name. Ignored for amqp:// URLs.
	TLS *tls.Config
	// ConnectionName is shown for the connection in RabbitMQ's
	// management UI and rabbitmqctl. "" means DefaultConnectionName
	// ("gateway").
	ConnectionName string
	// ConnectTimeout bounds one connection attempt: the TCP dial, the
	// TLS and the AMQP handshakes, and opening the channels. 0 (or less)
	// means DefaultConnectTimeout (5s).
	ConnectTimeout time.Duration
	// Heartbeat is the AMQP heartbeat interval proposed to the broker:
	// a silent broker is taken as gone after about three of them. 0 (or
	// less) means DefaultHeartbeat (10s). A heartbeat=N parameter in the
	// URL takes precedence.
	Heartbeat time.Duration
	// Channels is the number of confirm-mode channels kept open on the
	// connection. Each channel carries one publish at a time (see the
	// package documentation), so it is also how many publishes wait for
	// their confirmation at once; more wait for a free channel. 0 (or
	// less) means DefaultChannels (8).
	Channels int
	// MinBackoff and MaxBackoff pace reconnection attempts: the first
	// waits MinBackoff, each failure doubles the wait up to MaxBackoff,
	// with jitter (a wait is between half and all of its value). 0 (or
	// less) means DefaultMinBackoff (100ms) and DefaultMaxBackoff (10s);
	// a MaxBackoff below MinBackoff is raised to it.
	MinBackoff, MaxBackoff time.Duration
	// OnStateChange, if set, is called each time the connection comes
	// up (up, nil) or is lost (down, with the reason), and once when the
	// first attempt to connect fails, in order, never concurrently, on
	// the publisher's goroutine. Log there; it must not block
	// (reconnection waits for it). It is not called for Close.
	OnStateChange func(up bool, err error)
}

// Publisher publishes to RabbitMQ (or any AMQP 0-9-1 broker) with
// publisher confirms. It keeps one connection and reconnects with backoff
// on its own. Safe for concurrent use.
type Publisher struct {
	url            string
	tls            *tls.Config
	name           string
	connectTimeout time.Duration
	heartbeat      time.Duration
	channels       int
	minBackoff     time.Duration
	maxBackoff     time.Duration
	onStateChange  func(bool, error)

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	sess    atomic.Pointer[session]
	replies sync.Pool              // chan result, each empty
	lastErr atomic.Pointer[errBox] // why the publisher is not connected
	close   sync.Once
}

type errBox struct{ err error }

var _ broker.Publisher = (*Publisher)(nil)

// New returns a Publisher for s and starts connecting in the background:
// it does not wait for the broker, and it succeeds while RabbitMQ is down
// (Publish then returns an error wrapping broker.ErrUnavailable until a
// connection is made). It fails only on invalid settings. Call Close to
// stop it.
func New(s Settings) (*Publisher, error) {
	p := &Publisher{
		url:            s.URL,
		tls:            s.TLS,
		name:           s.ConnectionName,
		connectTimeout: s.ConnectTimeout,
		heartbeat:      s.Heartbeat,
		channels:       s.Channels,
		minBackoff:     s.MinBackoff,
		maxBackoff:     s.MaxBackoff,
		onStateChange:  s.OnStateChange,
	}
	if p.url == "" {
		p.url = DefaultURL
	}
	if _, err := amqp091.ParseURI(p.url); err != nil {
		return nil, fmt.Errorf("amqp: url: %w", err)
	}
	if p.name == "" {
		p.name = DefaultConnectionName
	}
	if p.connectTimeout <= 0 {
		p.connectTimeout = DefaultConnectTimeout
	}
	if p.heartbeat <= 0 {
		p.heartbeat = DefaultHeartbeat
	}
	if p.channels <= 0 {
		p.channels = DefaultChannels
	}
	if p.minBackoff <= 0 {
		p.minBackoff = DefaultMinBackoff
	}
	if p.maxBackoff <= 0 {
		p.maxBackoff = DefaultMaxBackoff
	}
	p.maxBackoff = max(p.maxBackoff, p.minBackoff)
	p.lastErr.Store(&errBox{errors.New("not connected yet")})
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.done = make(chan struct{})
	go p.run()
	return p, nil
}

// Up reports whether the publisher holds a live connection that RabbitMQ
// has not blocked (a blocked connection takes no publishes until the
// broker's resource alarm clears).
func (p *Publisher) Up() bool {
	s := p.sess.Load()
	return s != nil && !s.conn.IsClosed() && s.blocked.Load() == nil
}

// Close stops reconnecting, closes the connection and waits for the
// publisher's goroutines to end. Publishes still waiting for a
// confirmation return an error wrapping broker.ErrUnavailable. It is safe
// to call more than once and on a Publisher that never connected.
func (p *Publisher) Close() error {
	if p == nil || p.cancel == nil {
		return nil
	}
	p.close.Do(func() {
		p.cancel()
		<-p.done
	})
	return nil
}

// run connects, serves the connection until it is lost, and reconnects
// with backoff, until Close.
func (p *Publisher) run() {
	defer close(p.done)
	failures := 0
	reported := false // a down state was reported since the last up
	for {
		s, err := p.connect()
		if err == nil {
			failures, reported = 0, false
			p.sess.Store(s)
			p.report(true, nil)
			err = s.serve(p.ctx)
			p.sess.Store(nil)
			s.shutdown(p.connectTimeout)
			if p.ctx.Err() != nil {
				return
			}
			p.lastErr.Store(&errBox{fmt.Errorf("connection lost: %w", err)})
			p.report(false, err)
			reported = true
		} else {
			if p.ctx.Err() != nil {
				return
			}
			p.lastErr.Store(&errBox{err})
			if !reported {
				p.report(false, err)
				reported = true
			}
		}
		t := time.NewTimer(p.backoff(failures))
		failures++
		select {
		case <-p.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (p *Publisher) report(up bool, err error) {
	if p.onStateChange != nil {
		p.onStateChange(up, err)
	}
}

// backoff is the wait before attempt n+1 after n failures: MinBackoff
// doubled n times, at most MaxBackoff, less a random part of up to half.
func (p *Publisher) backoff(n int) time.Duration {
	d := p.minBackoff
	for i := 0; i < n && d < p.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// connect dials the broker and opens the session's channels, within
// ConnectTimeout; Close interrupts it.
func (p *Publisher) connect() (*session, error) {
	var sock socket
	dialer := &net.Dialer{Timeout: p.connectTimeout}
	props := amqp091.NewConnectionProperties()
	props.SetClientConnectionName(p.name)
	cfg := amqp091.Config{
		Heartbeat:       p.heartbeat,
		TLSClientConfig: p.tls.Clone(),
		Properties:      props,
		Dial: func(network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(p.ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// The handshakes must end in time; the library clears the
			// deadline once the connection is open.
			if err := c.SetDeadline(time.Now().Add(p.connectTimeout)); err != nil {
				c.Close()
				return nil, err
			}
			if !sock.set(c) {
				return nil, net.ErrClosed
			}
			return c, nil
		},
	}
	// Close ends a handshake under way by closing its socket.
	stop := context.AfterFunc(p.ctx, sock.close)
	c, err := amqp091.DialConfig(p.url, cfg)
	if !stop() || err != nil {
		// The library leaves a failed handshake's socket open; closing
		// it ends the connection's goroutines.
		sock.close()
		if err == nil {
			err = p.ctx.Err()
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	// Opening the channels is bounded like the handshake: a broker that
	// stops answering here has its socket closed under it.
	timer := time.AfterFunc(p.connectTimeout, sock.close)
	stop = context.AfterFunc(p.ctx, sock.close)
	s, err := openSession(c, p.channels, p.minBackoff)
	fired, canceled := !timer.Stop(), !stop()
	if err == nil && (fired || canceled) {
		s.shutdown(0)
		return nil, errors.New("open channels: timed out")
	}
	if err != nil {
		sock.close()
		return nil, fmt.Errorf("open channels: %w", err)
	}
	return s, nil
}

// socket is the connection's TCP socket while it is being set up, for
// other goroutines to close it.
type socket struct {
	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

// set keeps c, or closes it and returns false when close came first.
func (s *socket) set(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return false
	}
	s.conn = c
	return true
}

func (s *socket) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn != nil {
		s.conn.Close()
	}
}

// unavailable is the error of a publish while the publisher is not
// connected.
func (p *Publisher) unavailable() error {
	return fmt.Errorf("amqp: %w: %v", broker.ErrUnavailable, p.lastErr.Load().err)
}
