package forward

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/auth/internal/ttlcache"
)

// Settings configure a Client.
type Settings struct {
	// URL is the deciding endpoint (http or https).
	URL string
	// Timeout bounds a call, connecting to the last byte; zero means 2
	// seconds.
	Timeout time.Duration
	// RequestHeaders lists the request headers sent to the endpoint
	// (Authorization, Cookie, ...). Forwarding headers (X-Forwarded-*,
	// Forwarded, X-Real-Ip) and hop-by-hop or framing headers are refused.
	RequestHeaders []string
	// UpstreamHeaders lists the headers of a 2xx answer that are added to
	// the request sent upstream (X-User-Id, ...).
	UpstreamHeaders []string
	// ClientHeaders lists the headers of a refusal that go back to the
	// client (WWW-Authenticate, Location, Set-Cookie, ...).
	ClientHeaders []string
	// MaxBodyBytes caps the endpoint's answer body; a longer one is an
	// error. Zero means 64 KiB.
	MaxBodyBytes int
	// SendBody sends the request's body (and its Content-Type) to the
	// endpoint; false (the default) sends none.
	SendBody bool
	// MaxRequestBodyBytes caps the body sent with SendBody; a longer
	// body is refused with ErrRequestTooLarge (the caller answers 413).
	// Zero means 64 KiB.
	MaxRequestBodyBytes int
	// MaxConns bounds the connections to the endpoint; zero means 512.
	MaxConns int
	// CacheTTL keeps decisions this long; zero disables the cache.
	CacheTTL time.Duration
	// CacheKeyHeaders names the request headers whose values key the
	// cache; required with CacheTTL.
	CacheKeyHeaders []string
	// CacheKeyRequest adds the method and path to the cache key, for
	// endpoints that decide per path.
	CacheKeyRequest bool
	// CacheSize bounds the cache; zero means 10000.
	CacheSize int
}

// Forwarded is what the gateway itself knows about a request, sent to
// the endpoint in the X-Forwarded-* headers. Empty fields are not sent.
type Forwarded struct {
	// For is the client address (trusted_proxies applied).
	For string
	// Proto is the scheme the client used (http or https).
	Proto string
	// Host is the host the client asked for.
	Host string
}

// Header is one header of a decision.
type Header struct {
	Name, Value string
}

// Decision is the endpoint's answer. It may be shared by many requests
// through the cache: do not modify it.
type Decision struct {
	// Allowed is true for a 2xx answer.
	Allowed bool
	// Status is the endpoint's status code.
	Status int
	// Headers are the allow-listed headers of the answer: for the
	// upstream request when Allowed, for the client otherwise.
	Headers []Header
	// Body is the answer's body, for the client when not Allowed.
	Body []byte
}

// Errors of a failed call; the caller fails closed (503).
var (
	ErrTimeout     = errors.New("forward: the auth endpoint did not answer in time")
	ErrUnreachable = errors.New("forward: the auth endpoint cannot be reached")
	ErrTooLarge    = errors.New("forward: the auth endpoint's answer is over the size cap")
	ErrBadAnswer   = errors.New("forward: the auth endpoint's answer is malformed")
	// ErrRequestTooLarge is returned, without calling the endpoint, when
	// SendBody is on and the request's body is over its cap.
	ErrRequestTooLarge = errors.New("forward: the request body is over the cap for the auth endpoint")
)

// Client calls one endpoint. It is safe for concurrent use.
type Client struct {
	s        Settings
	hc       *fasthttp.HostClient
	uri      string
	hostHdr  string
	request  []string
	upstream map[string]bool // lower-case names
	client   map[string]bool
	cache    *ttlcache.Cache[[32]byte, *Decision]
}

// refused are headers the endpoint never gets from the inbound request:
// spoofable forwarding data, and hop-by-hop or framing headers.
var refused = map[string]bool{
	"forwarded": true, "x-real-ip": true, "x-forwarded-for": true, "x-forwarded-proto": true,
	"x-forwarded-host": true, "x-forwarded-port": true, "x-forwarded-method": true, "x-forwarded-uri": true,
	"x-forwarded-prefix": true, "x-forwarded-server": true, "x-forwarded-ssl": true, "x-original-url": true,
	"connection": true, "keep-alive": true, "proxy-connection": true, "te": true, "trailer": true,
	"transfer-encoding": true, "upgrade": true, "content-length": true, "host": true, "expect": true,
}

// New checks s and returns a client.
func New(s Settings) (*Client, error) {
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("forward: URL %q is not an http(s) URL", s.URL)
	}
	if s.Timeout <= 0 {
		s.Timeout = 2 * time.Second
	}
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = 64 << 10
	}
	if s.MaxRequestBodyBytes <= 0 {
		s.MaxRequestBodyBytes = 64 << 10
	}
	if s.MaxConns <= 0 {
		s.MaxConns = 512
	}
	var errs []error
	c := &Client{s: s, upstream: map[string]bool{}, client: map[string]bool{}}
	for _, h := range s.RequestHeaders {
		name := strings.TrimSpace(h)
		if refused[strings.ToLower(name)] || strings.HasPrefix(strings.ToLower(name), "x-forwarded-") {
			errs = append(errs, fmt.Errorf("forward: request header %q cannot be passed on: the gateway sets forwarding headers itself", name))
			continue
		}
		c.request = append(c.request, name)
	}
	for _, h := range s.UpstreamHeaders {
		c.upstream[strings.ToLower(strings.TrimSpace(h))] = true
	}
	for _, h := range s.ClientHeaders {
		c.client[strings.ToLower(strings.TrimSpace(h))] = true
	}
	if s.CacheTTL > 0 && len(s.CacheKeyHeaders) == 0 {
		errs = append(errs, errors.New("forward: a decision cache needs the headers that key it"))
	}
	if s.CacheTTL < 0 {
		errs = append(errs, errors.New("forward: cache TTL must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	c.uri = u.RequestURI()
	c.hostHdr = u.Host
	c.hc = &fasthttp.HostClient{
		Addr:                      addr,
		Name:                      "fastgate-forward-auth",
		IsTLS:                     u.Scheme == "https",
		MaxConns:                  s.MaxConns,
		ReadTimeout:               s.Timeout,
		WriteTimeout:              s.Timeout,
		MaxResponseBodySize:       s.MaxBodyBytes,
		MaxIdemponentCallAttempts: 1,
		RetryIfErr:                func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		MaxConnWaitTimeout:        s.Timeout,
	}
	if s.CacheTTL > 0 {
		size := s.CacheSize
		if size <= 0 {
			size = 10000
		}
		c.cache = ttlcache.New[[32]byte, *Decision](size, ttlcache.DigestShard)
	}
	return c, nil
}

// Close closes the idle connections to the endpoint.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// Check asks the endpoint about req (read, not modified) as of now. It
// returns the decision, or an error on which the caller fails closed.
func (c *Client) Check(req *fasthttp.Request, fwd Forwarded, now time.Time) (*Decision, error) {
	var key [32]byte
	if c.cache != nil {
		key = c.cacheKey(req)
		if d, ok := c.cache.Get(key, now.UnixNano()); ok {
			return d, nil
		}
	}
	d, err := c.call(req, fwd)
	if err != nil {
		return nil, err
	}
	if c.cache != nil && (d.Allowed || d.Status == fasthttp.StatusUnauthorized || d.Status == fasthttp.StatusForbidden) {
		c.cache.Put(key, d, now.Add(c.s.CacheTTL).UnixNano(), now.UnixNano())
	}
	return d, nil
}

func (c *Client) call(in *fasthttp.Request, fwd Forwarded) (*Decision, error) {
	if c.s.SendBody && len(in.Body()) > c.s.MaxRequestBodyBytes {
		return nil, ErrRequestTooLarge
	}
	out := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(out)
	defer fasthttp.ReleaseResponse(resp)

	out.Header.SetMethodBytes(in.Header.Method())
	out.SetRequestURI(c.uri)
	out.Header.SetHost(c.hostHdr)
	for _, name := range c.request {
		for _, v := range in.Header.PeekAll(name) {
			out.Header.AddBytesV(name, v)
		}
	}
	out.Header.SetBytesV("X-Forwarded-Method", in.Header.Method())
	out.Header.SetBytesV("X-Forwarded-Uri", in.Header.RequestURI())
	setIf(&out.Header, "X-Forwarded-Proto", fwd.Proto)
	setIf(&out.Header, "X-Forwarded-Host", fwd.Host)
	setIf(&out.Header, "X-Forwarded-For", fwd.For)
	if c.s.SendBody {
		out.SetBody(in.Body())
		if ct := in.Header.ContentType(); len(ct) > 0 {
			out.Header.SetContentTypeBytes(ct)
		}
	}

	if err := c.hc.DoTimeout(out, resp, c.s.Timeout); err != nil {
		return nil, classify(err)
	}
	status := resp.StatusCode()
	d := &Decision{Allowed: status >= 200 && status < 300, Status: status}
	allowed := c.client
	if d.Allowed {
		allowed = c.upstream
	} else {
		d.Body = bytes.Clone(resp.Body())
	}
	for k, v := range resp.Header.All() {
		if allowed[strings.ToLower(string(k))] {
			d.Headers = append(d.Headers, Header{Name: string(k), Value: string(v)})
		}
	}
	return d, nil
}

func setIf(h *fasthttp.RequestHeader, name, value string) {
	if value != "" {
		h.Set(name, value)
	}
}

func classify(err error) error {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrNoFreeConns):
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, fasthttp.ErrDialTimeout) {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	return fmt.Errorf("%w: %v", ErrBadAnswer, err)
}

// cacheKey hashes the values of the key headers and, when asked, the
// method and path, each prefixed by its length so that no two requests
// share a key unless they share those values. Keys that fit a stack
// buffer (the common case) cost no allocation.
func (c *Client) cacheKey(req *fasthttp.Request) [32]byte {
	var buf [2048]byte
	b := buf[:0]
	for _, name := range c.s.CacheKeyHeaders {
		values := req.Header.PeekAll(name)
		b = binary.BigEndian.AppendUint32(b, uint32(len(values)))
		for _, v := range values {
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		}
	}
	if c.s.CacheKeyRequest {
		m, path := req.Header.Method(), req.URI().Path()
		b = binary.BigEndian.AppendUint32(b, uint32(len(m)))
		b = append(b, m...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(path)))
		b = append(b, path...)
	}
	return sha256.Sum256(b)
}
