package nats

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fastgate/gateway/bridge/broker"
)

// Defaults of Settings' zero values.
const (
	DefaultURL              = natsgo.DefaultURL // nats://127.0.0.1:4222
	DefaultName             = "gateway"
	DefaultConnectTimeout   = 2 * time.Second
	DefaultReconnectWait    = 250 * time.Millisecond
	DefaultMaxReconnectWait = 5 * time.Second
	DefaultPingInterval     = 20 * time.Second
	DefaultWriteTimeout     = 5 * time.Second
	DefaultTimeout          = 5 * time.Second

	// closeWait bounds how long Close waits for the client to report
	// that it closed.
	closeWait = 5 * time.Second
)

// Settings configures a Publisher. Every zero value has a meaning, given
// with each field.
type Settings struct {
	// URL is the server's URL, or several separated by commas (the
	// client picks one and fails over to the others and to those the
	// cluster announces): nats://host:4222, tls://host:4222 for TLS
	// with the system's roots. It may carry credentials
	// (nats://user:password@host:4222, nats://token@host:4222).
	// "" means DefaultURL (nats://127.0.0.1:4222).
	URL string
	// Name is the connection's name in the server's monitoring; ""
	// means DefaultName ("gateway").
	Name string
	// JetStream publishes through JetStream and waits for the stream's
	// PubAck (at least once, exactly once per Message.ID). false
	// publishes with core NATS followed by a PING/PONG round trip (at
	// most once). See the package doc.
	JetStream bool
	// Username and Password, or Token, log in when the URL does not;
	// empty: none. CredentialsFile is a .creds file (user JWT and nkey
	// seed) for servers with decentralized auth; empty: none.
	Username, Password string
	Token              string
	CredentialsFile    string
	// ConnectTimeout bounds one attempt to connect to one server
	// (dial and handshake); 0 means DefaultConnectTimeout (2s).
	ConnectTimeout time.Duration
	// ReconnectWait is the wait after the first failed round of
	// attempts over the servers; it doubles after each further failed
	// round up to MaxReconnectWait, and each wait gets up to a fifth
	// more of random jitter. 0 means DefaultReconnectWait (250ms) and
	// DefaultMaxReconnectWait (5s); a MaxReconnectWait below
	// ReconnectWait means ReconnectWait.
	ReconnectWait    time.Duration
	MaxReconnectWait time.Duration
	// MaxReconnects is how many times in a row each server is tried
	// before it is given up; when all are, the Publisher stays down for
	// good (Up false, every publish ErrUnavailable). 0 or less means
	// forever, which suits a gateway.
	MaxReconnects int
	// PingInterval is how often the client pings the server; two
	// unanswered pings count as a lost connection (a server or network
	// gone without closing the socket is noticed within two or three
	// intervals). 0 means DefaultPingInterval (20s).
	PingInterval time.Duration
	// WriteTimeout bounds one write to the socket; a write that takes
	// longer breaks the connection. 0 means DefaultWriteTimeout (5s).
	WriteTimeout time.Duration
	// Timeout bounds a Publish or Request whose ctx has no deadline;
	// 0 means DefaultTimeout (5s).
	Timeout time.Duration
	// OnStateChange, if set, is called once for each change between
	// connected (up, nil) and not (down, with the cause when known), in
	// order, never concurrently, on the client's callback goroutine
	// (and once from New when the first attempt failed); an outage over
	// before its report runs is left out. Log there; it must not block.
	// It is not called for Close.
	OnStateChange func(up bool, err error)
	// OnError, if set, receives the errors the server reports outside
	// any call, such as a publish its permissions refused (which a core
	// NATS publish does not see). It runs like OnStateChange. nil: they
	// are dropped.
	OnError func(err error)
}

// Publisher publishes to NATS over one connection that it keeps up: see
// the package doc for the guarantee, reconnection and errors. It is safe
// for concurrent use.
type Publisher struct {
	nc      *natsgo.Conn
	js      jetstream.JetStream // nil: core NATS
	timeout time.Duration

	closing   atomic.Bool
	closeOnce sync.Once
	closed    chan struct{} // closed by the client's closed handler

	mu      sync.Mutex // serialises state changes and their callbacks
	state   int        // stateUnknown, stateUp or stateDown
	notify  func(up bool, err error)
	onError func(err error)
}

const (
	stateUnknown = iota
	stateUp
	stateDown
)

var (
	_ broker.Publisher = (*Publisher)(nil)
	_ broker.Requester = (*Publisher)(nil)
)

// New returns a Publisher for s and connects it. A server that cannot be
// reached is not an error: the Publisher starts down and keeps trying
// (see the package doc). New fails on settings it cannot use (a
// malformed URL, negative durations, credentials given twice, an
// unreadable credentials file).
func New(s Settings) (*Publisher, error) {
	if s.ConnectTimeout < 0 || s.ReconnectWait < 0 || s.MaxReconnectWait < 0 ||
		s.PingInterval < 0 || s.WriteTimeout < 0 || s.Timeout < 0 {
		return nil, errors.New("nats: timeouts, waits and intervals must be >= 0")
	}
	if s.Token != "" && s.Username != "" {
		return nil, errors.New("nats: set a token or a username, not both")
	}
	if s.Password != "" && s.Username == "" {
		return nil, errors.New("nats: a password needs a username")
	}
	p := &Publisher{
		timeout: orDefault(s.Timeout, DefaultTimeout),
		closed:  make(chan struct{}),
		notify:  s.OnStateChange,
		onError: s.OnError,
	}
	url := s.URL
	if url == "" {
		url = DefaultURL
	}
	nc, err := natsgo.Connect(url, p.options(s)...)
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	p.nc = nc
	if s.JetStream {
		// No I/O: JetStream is only reached by the publishes.
		if p.js, err = jetstream.New(nc); err != nil {
			nc.Close()
			return nil, fmt.Errorf("nats: jetstream: %w", err)
		}
	}
	if !nc.IsConnected() {
		p.setState(nc, false, errors.New("nats: first connection attempt failed; retrying in the background"))
	}
	return p, nil
}

// options are the client's options for s.
func (p *Publisher) options(s Settings) []natsgo.Option {
	name := s.Name
	if name == "" {
		name = DefaultName
	}
	maxReconnects := s.MaxReconnects
	if maxReconnects <= 0 {
		maxReconnects = -1
	}
	wait := orDefault(s.ReconnectWait, DefaultReconnectWait)
	maxWait := max(orDefault(s.MaxReconnectWait, DefaultMaxReconnectWait), wait)
	opts := []natsgo.Option{
		natsgo.Name(name),
		natsgo.Timeout(orDefault(s.ConnectTimeout, DefaultConnectTimeout)),
		natsgo.RetryOnFailedConnect(true),
		natsgo.MaxReconnects(maxReconnects),
		natsgo.CustomReconnectDelay(func(rounds int) time.Duration { return backoff(wait, maxWait, rounds) }),
		// Nothing is buffered while disconnected: a publish then fails
		// at once instead of going out later, after its caller was told
		// it failed.
		natsgo.ReconnectBufSize(-1),
		natsgo.PingInterval(orDefault(s.PingInterval, DefaultPingInterval)),
		natsgo.MaxPingsOutstanding(2),
		natsgo.FlusherTimeout(orDefault(s.WriteTimeout, DefaultWriteTimeout)),
		natsgo.ConnectHandler(func(c *natsgo.Conn) { p.setState(c, true, nil) }),
		natsgo.ReconnectHandler(func(c *natsgo.Conn) { p.setState(c, true, nil) }),
		natsgo.DisconnectErrHandler(func(c *natsgo.Conn, err error) { p.setState(c, false, err) }),
		natsgo.ReconnectErrHandler(func(c *natsgo.Conn, err error) { p.setState(c, false, err) }),
		natsgo.ClosedHandler(func(*natsgo.Conn) { close(p.closed) }),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, _ *natsgo.Subscription, err error) {
			if p.onError != nil && !p.closing.Load() {
				p.onError(err)
			}
		}),
	}
	if s.Username != "" {
		opts = append(opts, natsgo.UserInfo(s.Username, s.Password))
	}
	if s.Token != "" {
		opts = append(opts, natsgo.Token(s.Token))
	}
	if s.CredentialsFile != "" {
		opts = append(opts, natsgo.UserCredentials(s.CredentialsFile))
	}
	return opts
}

// backoff is the wait before round n (from 1) of reconnect attempts:
// wait doubled n-1 times, at most maxWait, plus up to a fifth of jitter.
func backoff(wait, maxWait time.Duration, n int) time.Duration {
	d := wait
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return d + rand.N(d/5+1)
}

// setState records a change of connection state and reports it to
// OnStateChange, once per change.
func (p *Publisher) setState(nc *natsgo.Conn, up bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing.Load() {
		return
	}
	want := stateDown
	if up {
		want = stateUp
		err = nil
	}
	if p.state == want {
		return
	}
	// A report of down that reaches here after the connection came back
	// (New's own report racing the client's) is stale.
	if !up && nc.IsConnected() {
		return
	}
	p.state = want
	if p.notify != nil {
		p.notify(up, err)
	}
}

// Up reports whether the Publisher is connected to a server. It is
// false before the first connection, during an outage and after Close.
func (p *Publisher) Up() bool {
	return p != nil && p.nc != nil && p.nc.IsConnected()
}

// Close closes the connection, which stops the client's goroutines and
// its reconnecting; later publishes fail with ErrUnavailable. It waits
// (up to 5s) for the client to finish closing. Safe on a nil Publisher
// and more than once.
func (p *Publisher) Close() error {
	if p == nil || p.nc == nil {
		return nil
	}
	p.closeOnce.Do(func() {
		p.closing.Store(true)
		p.nc.Close()
		t := time.NewTimer(closeWait)
		defer t.Stop()
		select {
		case <-p.closed:
		case <-t.C:
		}
	})
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
