package acme

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/certmagic"
	"github.com/fastgate/gateway/certs"
)

// LetsEncrypt is the directory of Let's Encrypt's production CA, the
// default of Settings.CA.
const LetsEncrypt = certmagic.LetsEncryptProductionCA

// Settings configure a Manager. The zero value of each field but Domains
// has the default its comment names.
type Settings struct {
	// Domains are the names to obtain certificates for, one certificate
	// each. Required. Wildcards need the DNS-01 challenge, which the
	// Manager does not offer, and are refused.
	Domains []string
	// Email is the ACME account's contact; none when empty.
	Email string
	// CA is the ACME directory URL; LetsEncrypt when empty.
	CA string
	// CARootsFile is a PEM file of the roots to trust when talking to
	// the CA over HTTPS (Pebble's minica in tests); the system roots
	// when empty.
	CARootsFile string
	// HTTPAddr is the address of the plain listener that calls
	// ServeHTTPChallenge (HTTP-01); ":80" when empty. While it listens,
	// certmagic starts no listener of its own there.
	HTTPAddr string
	// TLSAddr is the address of the TLS listener whose GetCertificate
	// comes from this Manager and which advertises acme-tls/1
	// (TLS-ALPN-01); ":443" when empty.
	TLSAddr string
	// DisableHTTP01 and DisableTLSALPN01 turn a challenge type off;
	// both on is an error.
	DisableHTTP01, DisableTLSALPN01 bool
	// Storage keeps accounts, keys, certificates and challenge answers.
	// Nil means files under StorageDir. Gateways that share a storage
	// (RedisStorage) obtain each certificate once and all serve it.
	Storage certmagic.Storage
	// StorageDir is the directory of the file storage used when Storage
	// is nil; certmagic's default ($XDG_DATA_HOME/certmagic, else
	// ~/.local/share/certmagic) when empty.
	StorageDir string
	// Logger receives certmagic's logs; slog.Default when nil.
	Logger *slog.Logger
	// OnEvent, when set, is called with each certmagic event
	// ("cert_obtaining", "cert_obtained", "cert_failed", ...) and the
	// name it is about, for metrics. It must return quickly.
	OnEvent func(event, name string)
}

// Manager obtains and renews certificates for a list of domains with
// ACME (github.com/caddyserver/certmagic), answers the HTTP-01 and
// TLS-ALPN-01 challenges through the gateway's own listeners, and serves
// the certificates through GetCertificate. Renewal runs in the
// background; a failed order is retried with certmagic's backoff (from
// a minute up to a day between attempts, for 30 days), and never stops
// the gateway from serving its other names.
//
// A Manager is safe for concurrent use. Close stops its background work.
type Manager struct {
	domains map[string]struct{}
	names   []string
	magic   *certmagic.Config
	issuer  *certmagic.ACMEIssuer
	cache   *certmagic.Cache

	mu     sync.Mutex
	cancel context.CancelFunc
	closed bool
}

// New checks s and prepares a Manager; it contacts no CA until Start.
func New(s Settings) (*Manager, error) {
	if len(s.Domains) == 0 {
		return nil, errors.New("acme: no domains to manage")
	}
	if s.DisableHTTP01 && s.DisableTLSALPN01 {
		return nil, errors.New("acme: both challenges disabled: keep HTTP-01 or TLS-ALPN-01")
	}
	m := &Manager{domains: make(map[string]struct{}, len(s.Domains))}
	for _, d := range s.Domains {
		d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		switch {
		case d == "":
			return nil, errors.New("acme: an empty domain")
		case strings.Contains(d, "*"):
			return nil, fmt.Errorf("acme: %s: wildcard certificates need the DNS-01 challenge, which is not offered", d)
		case net.ParseIP(d) != nil:
			return nil, fmt.Errorf("acme: %s: an IP address, not a domain", d)
		}
		if _, dup := m.domains[d]; !dup {
			m.domains[d] = struct{}{}
			m.names = append(m.names, d)
		}
	}
	if s.CA == "" {
		s.CA = LetsEncrypt
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	httpHost, httpPort, err := splitPort(s.HTTPAddr, 80)
	if err != nil {
		return nil, fmt.Errorf("acme: HTTP address: %w", err)
	}
	tlsHost, tlsPort, err := splitPort(s.TLSAddr, 443)
	if err != nil {
		return nil, fmt.Errorf("acme: TLS address: %w", err)
	}
	if httpHost != tlsHost {
		return nil, fmt.Errorf("acme: the HTTP and TLS listeners are on different hosts (%q, %q)", httpHost, tlsHost)
	}
	var roots *x509.CertPool
	if s.CARootsFile != "" {
		data, err := os.ReadFile(s.CARootsFile)
		if err != nil {
			return nil, fmt.Errorf("acme: CA roots: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("acme: CA roots %s: no PEM certificate", s.CARootsFile)
		}
	}
	storage := s.Storage
	if storage == nil && s.StorageDir != "" {
		storage = &certmagic.FileStorage{Path: s.StorageDir}
	}
	zl := newZapLogger(s.Logger).Named("certmagic")

	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		Logger:           zl,
	})
	onEvent := s.OnEvent
	m.magic = certmagic.New(m.cache, certmagic.Config{
		Storage: storage,
		Logger:  zl,
		OnEvent: func(_ context.Context, event string, data map[string]any) error {
			if onEvent != nil {
				name, _ := data["identifier"].(string)
				onEvent(event, name)
			}
			return nil
		},
	})
	m.issuer = certmagic.NewACMEIssuer(m.magic, certmagic.ACMEIssuer{
		CA:                      s.CA,
		Email:                   s.Email,
		Agreed:                  true,
		TrustedRoots:            roots,
		ListenHost:              httpHost,
		AltHTTPPort:             httpPort,
		AltTLSALPNPort:          tlsPort,
		DisableHTTPChallenge:    s.DisableHTTP01,
		DisableTLSALPNChallenge: s.DisableTLSALPN01,
		Logger:                  zl,
	})
	m.magic.Issuers = []certmagic.Issuer{m.issuer}
	return m, nil
}

func splitPort(addr string, def int) (host string, port int, err error) {
	if addr == "" {
		return "", def, nil
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err = strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("%s: bad port", addr)
	}
	return host, port, nil
}

// Domains returns the managed names, lower-case, in the order given.
func (m *Manager) Domains() []string { return append([]string(nil), m.names...) }

// Expiry returns, for each managed domain that has a certificate in
// memory, its names and the end of its validity (the latest one when a
// renewal left two), for the same gauge as certs.Store.Expiry. CertFile
// is empty.
func (m *Manager) Expiry() []certs.Expiry {
	var out []certs.Expiry
	for _, name := range m.names {
		var latest *x509.Certificate
		var names []string
		for _, c := range m.cache.AllMatchingCertificates(name) {
			if c.Leaf == nil || !contains(c.Names, name) {
				continue
			}
			if latest == nil || c.Leaf.NotAfter.After(latest.NotAfter) {
				latest, names = c.Leaf, append([]string(nil), c.Names...)
			}
		}
		if latest != nil {
			out = append(out, certs.Expiry{Names: names, NotAfter: latest.NotAfter})
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Start loads the managed certificates from storage and obtains, in the
// background, those missing or due for renewal; it returns once that is
// under way. Failures are logged and retried; they do not end Start.
// Start returns an error only if the Manager is closed or the storage
// is unusable.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("acme: manager closed")
	}
	if m.cancel != nil {
		return errors.New("acme: manager already started")
	}
	// The background work must outlive the caller's ctx (often a
	// request or a start-up timeout); Close cancels it.
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	return m.magic.ManageAsync(bg, m.names)
}

// Close stops obtaining and renewing and the certificate cache's
// maintenance. It is safe to call more than once and before Start.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	if m.cancel != nil {
		m.cancel()
	}
	m.cache.Stop()
	return nil
}

// Manages reports whether name (any case, trailing dot allowed) is one
// of the managed domains.
func (m *Manager) Manages(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	_, ok := m.domains[name]
	return ok
}

// GetCertificate answers TLS-ALPN-01 challenge handshakes (ALPN
// acme-tls/1 alone) and serves the managed certificates; it errs for a
// name it does not manage or has no certificate for yet.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if !isChallenge(hello) && !m.Manages(hello.ServerName) {
		return nil, fmt.Errorf("acme: %q is not a managed domain", hello.ServerName)
	}
	return m.magic.GetCertificate(hello)
}

// GetCertificateFunc puts the Manager in front of fallback (usually
// certs.Store.GetCertificate) for a tls.Config: challenge handshakes and
// managed names that have a certificate go to the Manager, all others to
// fallback, so a managed name whose order fails is served by fallback
// (its default certificate, or a refusal under strict SNI) meanwhile.
func (m *Manager) GetCertificateFunc(fallback func(*tls.ClientHelloInfo) (*tls.Certificate, error)) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if isChallenge(hello) {
			return m.magic.GetCertificate(hello)
		}
		if m.Manages(hello.ServerName) {
			c, err := m.magic.GetCertificate(hello)
			if err == nil && c != nil && len(c.Certificate) > 0 {
				return c, nil
			}
			if fallback == nil {
				return nil, err
			}
		}
		if fallback == nil {
			return nil, fmt.Errorf("acme: %q is not a managed domain", hello.ServerName)
		}
		return fallback(hello)
	}
}

// isChallenge reports a TLS-ALPN-01 validation handshake (RFC 8737: SNI
// and ALPN acme-tls/1 alone).
func isChallenge(hello *tls.ClientHelloInfo) bool {
	return hello.ServerName != "" && len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == "acme-tls/1"
}

// ServeHTTPChallenge answers an HTTP-01 validation request for host
// (without port) and path: ok is true and body is the key authorization
// to send with status 200 and Content-Type text/plain when the request is
// a challenge this Manager (or any gateway sharing its storage) started;
// otherwise ok is false and the request is the caller's to route. It
// does no HTTP itself, so any server can call it; only GET requests to
// /.well-known/acme-challenge/ should be passed.
func (m *Manager) ServeHTTPChallenge(host, path string) (body []byte, ok bool) {
	if !strings.HasPrefix(path, "/.well-known/acme-challenge/") {
		return nil, false
	}
	r := &http.Request{
		Method: http.MethodGet,
		Host:   host,
		URL:    &url.URL{Path: path},
		Header: http.Header{},
	}
	var w bodyRecorder
	if !m.issuer.HandleHTTPChallenge(&w, r) {
		return nil, false
	}
	return w.body.Bytes(), true
}

// bodyRecorder is the http.ResponseWriter certmagic's HTTP-01 answer is
// written into.
type bodyRecorder struct {
	header http.Header
	body   bytes.Buffer
}

func (w *bodyRecorder) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}
func (w *bodyRecorder) Write(b []byte) (int, error) { return w.body.Write(b) }
func (w *bodyRecorder) WriteHeader(int)             {}
