package gateway

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/certs"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/metrics"
)

// The HTTPS listener (tls.listen): the same fasthttp.Server and handler as
// the plain listener, over a certs.Listener that finishes each handshake
// under a deadline before fasthttp sees the connection. Certificates live
// in a certs.Store: every reload loads the files again and swaps a new
// set in, or refuses the configuration and leaves the old set serving.
// What the listener was started with (address, minimum version, client
// certificates, ACME, handshake timeout) stays until a restart, as the
// reload tags of config.TLS say.

// ACME is what the gateway needs of an ACME client (certs/acme.Manager,
// built by the caller from tls.acme).
type ACME interface {
	// GetCertificateFunc puts the ACME certificates in front of fallback.
	GetCertificateFunc(fallback func(*tls.ClientHelloInfo) (*tls.Certificate, error)) func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ServeHTTPChallenge answers an HTTP-01 validation request.
	ServeHTTPChallenge(host, path string) (body []byte, ok bool)
	// Expiry lists the ACME certificates held and when they expire.
	Expiry() []certs.Expiry
}

// edgeTLS is the HTTPS listener's material. Its fields but the Store's
// content are set by newEdgeTLS and never change.
type edgeTLS struct {
	store  *certs.Store
	config *tls.Config
	// header is the client identity header (tls.client_auth.header), nil
	// for none.
	header []byte
	// port is the HTTPS listener's port as redirects name it: "" for
	// 443. Set by newEdgeTLS, and by ServeTLS for a listener on port 0.
	port             atomic.Pointer[string]
	handshakeTimeout time.Duration
	acme             ACME
	// redirectHTTP is tls.redirect_http of the configuration serving.
	redirectHTTP atomic.Bool
	stats        *metrics.TLS
}

// newEdgeTLS loads the certificates of cfg and makes the listener's
// tls.Config; nil when the HTTPS listener is off.
func newEdgeTLS(cfg *config.Config, acme ACME, m *metrics.Metrics) (*edgeTLS, error) {
	t := &cfg.TLS
	if !t.Enabled() {
		return nil, nil
	}
	if t.ACME != nil && acme == nil {
		return nil, errors.New("gateway: tls.acme is set but no ACME client was given (it is built by the gateway command)")
	}
	set, keys, err := loadEdgeTLS(cfg)
	if err != nil {
		return nil, err
	}
	e := &edgeTLS{store: certs.NewStore(set), acme: acme, handshakeTimeout: t.HandshakeTimeout}
	e.redirectHTTP.Store(t.RedirectHTTP)
	s := certs.ServerSettings{MinVersion: config.MinTLSVersion(t.MinVersion)}
	if a := t.ClientAuth; a != nil {
		s.ClientAuth = certs.ClientAuth(a.Mode)
		s.ClientCAFile = cfg.ResolvePath(a.CAFile)
		if a.Header != "" {
			e.header = []byte(a.Header)
		}
	}
	if acme != nil {
		s.ACMEALPN = true
		s.GetCertificate = acme.GetCertificateFunc(e.store.GetCertificate)
	}
	if e.config, err = certs.ServerConfig(e.store, s); err != nil {
		return nil, fmt.Errorf("gateway: tls: %w", err)
	}
	if keys != nil {
		e.config.SetSessionTicketKeys(keys)
	}
	e.setPort(t.Listen)
	e.stats = m.TLS(e.expiry)
	e.stats.SetUnknownName(func(err error) bool {
		return errors.Is(err, certs.ErrUnknownName) || errors.Is(err, certs.ErrNoSNI)
	})
	return e, nil
}

// loadEdgeTLS loads the certificate pairs and ticket keys cfg names. The
// set is nil when only ACME provides certificates; keys is nil without a
// ticket key file.
func loadEdgeTLS(cfg *config.Config) (*certs.Set, [][32]byte, error) {
	t := &cfg.TLS
	var keys [][32]byte
	if t.SessionTicketKeysFile != "" {
		var err error
		if keys, err = certs.LoadTicketKeys(cfg.ResolvePath(t.SessionTicketKeysFile)); err != nil {
			return nil, nil, fmt.Errorf("gateway: tls.session_ticket_keys_file: %w", err)
		}
	}
	if len(t.Certificates) == 0 {
		return nil, keys, nil
	}
	pairs := make([]*certs.Pair, 0, len(t.Certificates))
	var def *certs.Pair
	for i, cf := range t.Certificates {
		p, err := certs.LoadPair(cfg.ResolvePath(cf.CertFile), cfg.ResolvePath(cf.KeyFile))
		if err != nil {
			return nil, nil, fmt.Errorf("gateway: tls.certificates[%d]: %w", i, err)
		}
		pairs = append(pairs, p)
		if t.Default != "" && cf.CertFile == t.Default {
			def = p
		}
	}
	set, err := certs.NewSet(pairs, certs.SetOptions{Default: def, StrictSNI: t.StrictSNI})
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: tls: %w", err)
	}
	return set, keys, nil
}

// setPort takes the port of the HTTPS listener's address for redirects.
func (e *edgeTLS) setPort(addr string) {
	port := ""
	if _, p, err := net.SplitHostPort(addr); err == nil && p != "443" {
		port = p
	}
	e.port.Store(&port)
}

// tlsUpdate is the certificate set and ticket keys a reload prepared.
type tlsUpdate struct {
	set      *certs.Set
	keys     [][32]byte
	redirect bool
}

// prepare loads what cfg names for the HTTPS listener, without changing
// what serves; nil when the listener is off.
func (e *edgeTLS) prepare(cfg *config.Config) (*tlsUpdate, error) {
	if e == nil {
		return nil, nil
	}
	set, keys, err := loadEdgeTLS(cfg)
	if err != nil {
		return nil, err
	}
	return &tlsUpdate{set: set, keys: keys, redirect: cfg.TLS.RedirectHTTP}, nil
}

// commit makes u serve: new handshakes see its certificates and keys;
// connections open keep theirs.
func (e *edgeTLS) commit(u *tlsUpdate) {
	if e == nil || u == nil {
		return
	}
	if u.set != nil {
		e.store.Swap(u.set)
	}
	if u.keys != nil {
		e.config.SetSessionTicketKeys(u.keys)
	}
	e.redirectHTTP.Store(u.redirect)
}

// expiry lists every certificate served, for the expiry gauge.
func (e *edgeTLS) expiry() []metrics.CertExpiry {
	var out []metrics.CertExpiry
	add := func(list []certs.Expiry, source string) {
		for _, x := range list {
			name := ""
			if len(x.Names) > 0 {
				name = x.Names[0]
			}
			out = append(out, metrics.CertExpiry{Name: name, Source: source, NotAfter: x.NotAfter})
		}
	}
	add(e.store.Expiry(), "file")
	if e.acme != nil {
		add(e.acme.Expiry(), "acme")
	}
	return out
}

// ErrNoTLS is what ServeTLS returns when the configuration has no
// tls.listen.
var ErrNoTLS = errors.New("gateway: no HTTPS listener is configured (tls.listen)")

// ServeTLS answers HTTPS requests arriving on ln (a plain TCP listener)
// until Shutdown, and closes ln. Each connection's handshake runs on its
// own goroutine within tls.handshake_timeout; a client that stalls, sends
// plain HTTP or garbage, or is refused never reaches the routes and is
// counted, not logged.
func (g *Gateway) ServeTLS(ln net.Listener) error {
	if g.edge == nil {
		_ = ln.Close()
		return ErrNoTLS
	}
	if _, port, _ := net.SplitHostPort(g.Config().TLS.Listen); port == "0" {
		g.edge.setPort(ln.Addr().String()) // the port the system chose
	}
	tl := certs.NewListener(ln, g.edge.config, certs.ListenerSettings{
		HandshakeTimeout: g.edge.handshakeTimeout,
		OnHandshake:      g.edge.stats.Handshake,
	})
	return g.Serve(tl)
}

// serveEdge is the fasthttp handler when the HTTPS listener is
// configured: edgeTLS.before, then serve.
func (g *Gateway) serveEdge(ctx *fasthttp.RequestCtx) {
	if g.edge.before(ctx, g.unmatched) {
		return
	}
	g.serve(ctx)
}

// before runs ahead of routing on every request when the HTTPS listener
// is configured: it removes client copies of the identity header and, on
// HTTPS, sets it from the verified client certificate; on the plain
// listener it answers ACME HTTP-01 challenges and, with
// tls.redirect_http, redirects to https://. It reports whether it
// answered the request, counting it as unmatched. Not inlined, so that
// its frame is not on the stack of every request (see matchRoute).
//
//go:noinline
func (e *edgeTLS) before(ctx *fasthttp.RequestCtx, unmatched *metrics.Route) bool {
	if e.header != nil {
		ctx.Request.Header.DelBytes(e.header)
	}
	if ctx.IsTLS() {
		if e.header != nil {
			e.identify(ctx)
		}
		return false
	}
	switch {
	case e.acme != nil && e.challenge(ctx):
	case e.redirectHTTP.Load():
		e.redirect(ctx)
	default:
		return false
	}
	answerRequestID(ctx)
	unmatched.Request(ctx.Method(), ctx.Response.StatusCode())
	return true
}

// identify passes the verified client certificate's identity upstream.
func (e *edgeTLS) identify(ctx *fasthttp.RequestCtx) {
	if id := certs.ClientIdentity(ctx.TLSConnectionState()); id != "" {
		ctx.Request.Header.SetBytesKV(e.header, []byte(id))
	}
}

var acmeChallengePrefix = []byte("/.well-known/acme-challenge/")

// challenge answers an ACME HTTP-01 validation request.
func (e *edgeTLS) challenge(ctx *fasthttp.RequestCtx) bool {
	if !ctx.IsGet() || !bytes.HasPrefix(ctx.Path(), acmeChallengePrefix) {
		return false
	}
	host, _, err := net.SplitHostPort(string(ctx.Host()))
	if err != nil {
		host = string(ctx.Host())
	}
	body, ok := e.acme.ServeHTTPChallenge(host, string(ctx.Path()))
	if !ok {
		return false
	}
	ctx.Response.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.SetContentType("text/plain")
	ctx.Response.SetBody(body)
	return true
}

// redirect answers 308 to the same URL on the HTTPS listener.
func (e *edgeTLS) redirect(ctx *fasthttp.RequestCtx) {
	host := ctx.Host()
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && !bytes.HasSuffix(host, []byte("]")) {
		host = host[:i]
	}
	port := *e.port.Load()
	loc := make([]byte, 0, 16+len(host)+len(port)+len(ctx.RequestURI()))
	loc = append(loc, "https://"...)
	loc = append(loc, host...)
	if port != "" {
		loc = append(loc, ':')
		loc = append(loc, port...)
	}
	loc = append(loc, ctx.RequestURI()...)
	ctx.Response.Reset()
	ctx.Response.SetStatusCode(fasthttp.StatusPermanentRedirect)
	ctx.Response.Header.SetBytesV("Location", loc)
	ctx.Response.Header.SetContentLength(0)
}

// tlsFields are the access log's TLS version and server name of a request
// over TLS, read without copying the connection state to the heap. Not
// inlined: the state is large, and would otherwise sit in its caller's
// frame on every request.
//
//go:noinline
func tlsFields(ctx *fasthttp.RequestCtx) (version, sni string) {
	tc, ok := ctx.Conn().(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return "", ""
	}
	st := tc.ConnectionState()
	switch st.Version {
	case tls.VersionTLS13:
		version = "1.3"
	case tls.VersionTLS12:
		version = "1.2"
	}
	return version, st.ServerName
}
