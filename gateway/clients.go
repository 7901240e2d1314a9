package gateway

import (
	"crypto/tls"
	"log/slog"
	"sync"
	"time"

	"github.com/fastgate/gateway/upstream"
)

// clientKey is everything an upstream connection pool is made of. Routes
// whose targets and connection settings agree share one pool, so ten
// thousand routes in front of one service hold one set of connections,
// and a route whose other settings change keeps its warm connections.
type clientKey struct {
	addr           string
	maxConns       int
	connectTimeout time.Duration
	readTimeout    time.Duration
	writeTimeout   time.Duration
	idleTimeout    time.Duration
	connWait       time.Duration
	maxResponse    int64
	// tls identifies the TLS settings and files; "" for plain HTTP.
	tls string
}

// bufferedBodyMax is the largest answer body (by its Content-Length) read
// whole before the client's answer starts; larger ones, and those of
// unknown length, stream to the client from the upstream connection's
// buffer. Read whole, a small body frees its upstream connection before
// the client is written to and skips the streamed body's bookkeeping (a
// pooled body, its watcher, the observation deferred to its end), and an
// upstream that breaks within it gets the client a 502 rather than a cut
// answer.
const bufferedBodyMax = 4 << 10

// clients hands out shared upstream connection pools, counting users.
// Safe for concurrent use; not on the request path.
type clients struct {
	mu   sync.Mutex
	pool map[clientKey]*sharedClient
	// log receives the pools' rate-limited lines about upstream
	// failures; nil: none.
	log *slog.Logger
}

type sharedClient struct {
	c    *upstream.Client
	refs int
}

// acquire returns the pool for k, creating it on first use, with
// tlsConfig for its connections (nil: plain; k.tls tells configs apart).
func (cs *clients) acquire(k clientKey, tlsConfig *tls.Config) (*upstream.Client, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if sc := cs.pool[k]; sc != nil {
		sc.refs++
		return sc.c, nil
	}
	c, err := upstream.New(upstream.Settings{
		Addr:           k.addr,
		MaxConns:       k.maxConns,
		ConnectTimeout: k.connectTimeout,
		ReadTimeout:    k.readTimeout,
		WriteTimeout:   k.writeTimeout,
		IdleTimeout:    k.idleTimeout,
		// A request waits this long for a busy pool before its 503.
		ConnWaitTimeout: k.connWait,
		MaxResponseBody: k.maxResponse,
		MaxBufferedBody: bufferedBodyMax,
		TLS:             tlsConfig,
	})
	if err != nil {
		return nil, err
	}
	if cs.pool == nil {
		cs.pool = make(map[clientKey]*sharedClient)
	}
	cs.pool[k] = &sharedClient{c: c, refs: 1}
	return c, nil
}

// release gives back one use of the pool for k and closes it after the
// last.
func (cs *clients) release(k clientKey) {
	cs.mu.Lock()
	sc := cs.pool[k]
	if sc == nil {
		cs.mu.Unlock()
		return
	}
	sc.refs--
	if sc.refs > 0 {
		cs.mu.Unlock()
		return
	}
	delete(cs.pool, k)
	cs.mu.Unlock()
	_ = sc.c.Close()
}

// open returns how many pools are open (for tests).
func (cs *clients) open() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.pool)
}
