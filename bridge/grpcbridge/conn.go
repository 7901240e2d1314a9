package grpcbridge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// Defaults of ConnSettings' zero values.
const (
	// DefaultMaxReconnectDelay caps the wait between two attempts to
	// connect to an address (gRPC's own default grows to 2 minutes), so
	// a backend that comes back is used again within seconds.
	DefaultMaxReconnectDelay = 2 * time.Second
	// DefaultConnectTimeout bounds one attempt to connect to an address.
	DefaultConnectTimeout = 5 * time.Second
)

// resolverScheme is the scheme of each Conn's own manual resolver. The
// resolver is given to its ClientConn only (grpc.WithResolvers), never
// registered globally.
const resolverScheme = "fastgate"

// roundRobin is the service config that balances each call to the next
// ready address.
const roundRobin = `{"loadBalancingConfig":[{"round_robin":{}}]}`

// ConnSettings configures a Conn. Every zero value has a meaning, given
// with each field.
type ConnSettings struct {
	// Addrs are the backend addresses, each host:port (an IP literal or
	// a name the system resolver knows). Empty is allowed: calls fail
	// with UNAVAILABLE until Update brings addresses.
	Addrs []string
	// Authority is the :authority (virtual host) of every call. "" means
	// TLS's ServerName when set, else the service name Name, or
	// "localhost" without one.
	Authority string
	// Name names the Conn in errors and is the default Authority, e.g.
	// the discovery service name. "" means none.
	Name string
	// ConnectTimeout bounds one attempt to connect to one address. 0 (or
	// less) means DefaultConnectTimeout (5s).
	ConnectTimeout time.Duration
	// MaxReconnectDelay caps the backoff between attempts to reconnect to
	// an address. 0 (or less) means DefaultMaxReconnectDelay (2s).
	MaxReconnectDelay time.Duration
	// MaxRecvMsgSize is the largest answer, in bytes, a call accepts. 0
	// means gRPC's default, 4 MiB.
	MaxRecvMsgSize int
	// MaxSendMsgSize is the largest request message, in bytes. 0 means
	// gRPC's default (no limit beyond the server's).
	MaxSendMsgSize int
	// TLS, when set, makes the connections TLS with this configuration
	// (its ServerName, when empty, is the Authority's host). Nil means
	// plain text.
	TLS *tls.Config
}

// Conn is one gRPC client connection to a set of backend addresses. Calls
// are balanced round-robin over the addresses that are ready; Update
// replaces the set (from the gateway's service discovery) without
// dropping calls in flight on addresses that stay.
//
// The connections are plain text (insecure credentials) unless
// ConnSettings.TLS is set. Conn implements
// grpc.ClientConnInterface and is safe for concurrent use.
type Conn struct {
	cc     *grpc.ClientConn
	r      *manual.Resolver
	name   string
	mu     sync.Mutex // orders Update and Close
	closed atomic.Bool
}

var _ grpc.ClientConnInterface = (*Conn)(nil)

// ErrConnClosed is returned by Update on a closed Conn.
var ErrConnClosed = errors.New("grpcbridge: connection closed")

// Dial returns a Conn to s.Addrs and starts connecting in the background;
// it does not wait for a connection. An address that is not host:port is
// an error.
func Dial(s ConnSettings) (*Conn, error) {
	state, err := addrState(s.Addrs)
	if err != nil {
		return nil, err
	}
	r := manual.NewBuilderWithScheme(resolverScheme)
	r.InitialState(state)
	connect := s.ConnectTimeout
	if connect <= 0 {
		connect = DefaultConnectTimeout
	}
	maxDelay := s.MaxReconnectDelay
	if maxDelay <= 0 {
		maxDelay = DefaultMaxReconnectDelay
	}
	bo := backoff.DefaultConfig
	bo.MaxDelay = maxDelay
	if bo.BaseDelay > maxDelay {
		bo.BaseDelay = maxDelay
	}
	authority := s.Authority
	if authority == "" && s.TLS != nil {
		// grpc-go refuses an authority other than the TLS server name.
		authority = s.TLS.ServerName
	}
	if authority == "" {
		authority = s.Name
	}
	if authority == "" {
		authority = "localhost"
	}
	creds := insecure.NewCredentials()
	if s.TLS != nil {
		creds = credentials.NewTLS(s.TLS)
	}
	opts := []grpc.DialOption{
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultServiceConfig(roundRobin),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: connect}),
		grpc.WithAuthority(authority),
	}
	var callOpts []grpc.CallOption
	if s.MaxRecvMsgSize > 0 {
		callOpts = append(callOpts, grpc.MaxCallRecvMsgSize(s.MaxRecvMsgSize))
	}
	if s.MaxSendMsgSize > 0 {
		callOpts = append(callOpts, grpc.MaxCallSendMsgSize(s.MaxSendMsgSize))
	}
	if len(callOpts) > 0 {
		opts = append(opts, grpc.WithDefaultCallOptions(callOpts...))
	}
	cc, err := grpc.NewClient(resolverScheme+":///backend", opts...)
	if err != nil {
		return nil, fmt.Errorf("grpcbridge: dial %s: %w", s.Name, err)
	}
	cc.Connect()
	return &Conn{cc: cc, r: r, name: s.Name}, nil
}

// addrState checks addrs and makes the resolver state of them.
func addrState(addrs []string) (resolver.State, error) {
	st := resolver.State{Addresses: make([]resolver.Address, 0, len(addrs))}
	seen := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return resolver.State{}, fmt.Errorf("grpcbridge: address %q: want host:port", a)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return resolver.State{}, fmt.Errorf("grpcbridge: address %q: port must be within 1 and 65535", a)
		}
		if seen[a] {
			continue
		}
		seen[a] = true
		st.Addresses = append(st.Addresses, resolver.Address{Addr: a})
	}
	return st, nil
}

// Update replaces the Conn's addresses. Connections to addresses that
// stay are kept; calls already sent finish where they are. An empty list
// makes new calls fail with UNAVAILABLE until addresses come back. An
// invalid address is an error and leaves the addresses as they were.
func (c *Conn) Update(addrs []string) error {
	st, err := addrState(addrs)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return ErrConnClosed
	}
	c.r.UpdateState(st)
	return nil
}

// Invoke performs a unary call; see grpc.ClientConnInterface.
func (c *Conn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.cc.Invoke(ctx, method, args, reply, opts...)
}

// NewStream begins a streaming call; see grpc.ClientConnInterface.
func (c *Conn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.cc.NewStream(ctx, desc, method, opts...)
}

// Close ends the connections; calls in flight fail with CANCELED. Close is
// safe to call more than once.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Swap(true) {
		return nil
	}
	return c.cc.Close()
}
