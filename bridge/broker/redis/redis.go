package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fastgate/gateway/bridge/broker"
)

// Defaults of Settings' zero values.
const (
	DefaultAddr         = "127.0.0.1:6379"
	DefaultDialTimeout  = 2 * time.Second
	DefaultTimeout      = 5 * time.Second
	DefaultPingInterval = time.Second
)

// Settings configures a Publisher. Every zero value has a meaning, given
// with each field. NewWithClient uses only MaxLen, RequireStream,
// Timeout, PingInterval and OnStateChange: the borrowed client brings
// the rest.
type Settings struct {
	// Addr is Redis' host:port; "" means DefaultAddr (127.0.0.1:6379).
	Addr string
	// Username and Password log in (AUTH); empty: no login, or the
	// default user with Password only.
	Username, Password string
	// DB is the database number; 0 is Redis' default database.
	DB int
	// TLS, if set, secures the connection with this configuration;
	// nil: plain TCP.
	TLS *tls.Config
	// DialTimeout bounds connecting to Redis (dial, TLS, login); 0
	// means DefaultDialTimeout (2s).
	DialTimeout time.Duration
	// PoolSize caps the connections to Redis; 0 means the client's
	// default (10 per CPU).
	PoolSize int
	// MaxLen trims each stream to about this many entries as entries
	// are added (XADD MAXLEN ~: Redis trims whole internal nodes, so a
	// stream may hold somewhat more); 0 means unbounded.
	MaxLen int64
	// RequireStream makes a publish to a stream that does not exist
	// fail with ErrNotConfirmed (XADD NOMKSTREAM) instead of creating
	// it, against typos in route configs; false creates it.
	RequireStream bool
	// Timeout bounds one publish (and each PING) when ctx has no
	// earlier deadline; 0 means DefaultTimeout (5s). With New it is also
	// the client's read, write and pool-wait timeout.
	Timeout time.Duration
	// PingInterval is how often the Publisher PINGs Redis to keep Up
	// current without traffic; 0 means DefaultPingInterval (1s), less
	// than 0 no PING (Up then follows the publishes alone).
	PingInterval time.Duration
	// OnStateChange, if set, is called once for each change between
	// reachable (up, nil) and not (down, with the error that showed
	// it), in order, never concurrently, on the goroutine of the
	// publish or PING that saw it. Log there; it must not block. It is
	// not called for Close.
	OnStateChange func(up bool, err error)
}

// Publisher publishes to Redis streams and channels through one client:
// see the package doc for the guarantee, the entry layout and errors. It
// is safe for concurrent use.
type Publisher struct {
	client        goredis.UniversalClient
	owned         bool // Close closes client
	maxLen        int64
	requireStream bool
	timeout       time.Duration

	state  atomic.Int32 // stateUnknown, stateUp or stateDown
	mu     sync.Mutex   // serialises state changes and their callbacks
	notify func(up bool, err error)

	closed    atomic.Bool
	closeOnce sync.Once
	ctx       context.Context // cancelled by Close: ends a PING in flight
	cancel    context.CancelFunc
	done      chan struct{} // closed when the PING goroutine ended
}

const (
	stateUnknown = iota
	stateUp
	stateDown
)

var _ broker.Publisher = (*Publisher)(nil)

// New returns a Publisher with its own client for s, which Close closes.
// It PINGs Redis once (bounded by DialTimeout and Timeout); a Redis that
// does not answer is not an error: the Publisher starts down. New fails
// only on settings it cannot use.
func New(s Settings) (*Publisher, error) {
	if s.DialTimeout < 0 || s.Timeout < 0 || s.PoolSize < 0 || s.DB < 0 || s.MaxLen < 0 {
		return nil, errors.New("redis: dial timeout, timeout, pool size, db and max length must be >= 0")
	}
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	timeout := orDefault(s.Timeout, DefaultTimeout)
	client := goredis.NewClient(&goredis.Options{
		Addr:      addr,
		Username:  s.Username,
		Password:  s.Password,
		DB:        s.DB,
		TLSConfig: s.TLS,
		PoolSize:  s.PoolSize,
		// Deadlines come from ctx, else from Timeout.
		ContextTimeoutEnabled: true,
		DialTimeout:           orDefault(s.DialTimeout, DefaultDialTimeout),
		DialerRetries:         1,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		PoolTimeout:           timeout,
		// One XADD per publish: a hidden retry after a lost answer
		// would append the entry a second time.
		MaxRetries: -1,
	})
	return start(client, true, s)
}

// NewWithClient returns a Publisher that publishes through client, for
// example the client of the Redis rate limiter, and never closes it. Of
// s it uses MaxLen, RequireStream, Timeout, PingInterval and
// OnStateChange. Publish returns by ctx's deadline only if client
// honours context deadlines (ContextTimeoutEnabled). It PINGs Redis once,
// as New does.
func NewWithClient(client goredis.UniversalClient, s Settings) (*Publisher, error) {
	if client == nil {
		return nil, errors.New("redis: NewWithClient needs a client")
	}
	if s.Timeout < 0 || s.MaxLen < 0 {
		return nil, errors.New("redis: timeout and max length must be >= 0")
	}
	return start(client, false, s)
}

// start builds the Publisher, PINGs once and starts the PING goroutine.
func start(client goredis.UniversalClient, owned bool, s Settings) (*Publisher, error) {
	p := &Publisher{
		client:        client,
		owned:         owned,
		maxLen:        s.MaxLen,
		requireStream: s.RequireStream,
		timeout:       orDefault(s.Timeout, DefaultTimeout),
		notify:        s.OnStateChange,
		done:          make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.ping()
	if s.PingInterval < 0 {
		close(p.done)
		return p, nil
	}
	go p.pingEvery(orDefault(s.PingInterval, DefaultPingInterval))
	return p, nil
}

// ping sends one PING and records its outcome.
func (p *Publisher) ping() {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	err := p.client.Ping(ctx).Err()
	if p.closed.Load() {
		return
	}
	if err != nil {
		p.setState(false, fmt.Errorf("redis: ping: %w", err))
		return
	}
	p.setState(true, nil)
}

// pingEvery PINGs every interval until Close.
func (p *Publisher) pingEvery(interval time.Duration) {
	defer close(p.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
			p.ping()
		}
	}
}

// setState records whether Redis answered and reports a change to
// OnStateChange.
func (p *Publisher) setState(up bool, err error) {
	want := int32(stateDown)
	if up {
		want = stateUp
		err = nil
	}
	if p.state.Load() == want {
		return // the common case, without the lock
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() || p.state.Load() == want {
		return
	}
	p.state.Store(want)
	if p.notify != nil {
		p.notify(up, err)
	}
}

// Up reports whether the last command to Redis (a publish or the
// periodic PING) found it reachable. It is false after Close.
func (p *Publisher) Up() bool {
	return p != nil && !p.closed.Load() && p.state.Load() == stateUp
}

// Close stops the PING goroutine (waiting for it) and closes the client
// if New made it; a borrowed client stays open. Later publishes fail
// with ErrUnavailable. Safe on a nil Publisher and more than once.
func (p *Publisher) Close() error {
	if p == nil || p.client == nil {
		return nil
	}
	var err error
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		p.cancel()
		<-p.done
		if p.owned {
			err = p.client.Close()
		}
	})
	return err
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
