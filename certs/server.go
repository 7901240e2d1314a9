package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ALPN protocol names the edge listener may advertise. h2 is never among
// them: fasthttp serves HTTP/1.1 only and would read the HTTP/2 preface
// (PRI * HTTP/2.0) as a request.
const (
	ProtoHTTP11  = "http/1.1"
	ProtoACMETLS = "acme-tls/1" // RFC 8737, the TLS-ALPN-01 challenge
)

// ClientAuth is how the edge listener treats client certificates.
type ClientAuth string

// The client certificate modes.
const (
	// ClientAuthNone asks for no client certificate (the zero value).
	ClientAuthNone ClientAuth = ""
	// ClientAuthRequire refuses a client without a certificate that
	// verifies against the client CA file.
	ClientAuthRequire ClientAuth = "require"
	// ClientAuthVerifyIfGiven accepts a client without a certificate, and
	// refuses one whose certificate does not verify.
	ClientAuthVerifyIfGiven ClientAuth = "verify_if_given"
)

// ServerSettings configure the edge listener's tls.Config. The zero value
// is TLS 1.2 and later, ALPN http/1.1, no client certificates, and session
// tickets under keys that Go makes and rotates itself.
type ServerSettings struct {
	// MinVersion is tls.VersionTLS12 or tls.VersionTLS13; 0 means TLS 1.2.
	MinVersion uint16
	// ACMEALPN also advertises acme-tls/1, for the TLS-ALPN-01 challenge;
	// GetCertificate must then answer those handshakes (certs/acme).
	ACMEALPN bool
	// ClientAuth asks for client certificates; not ClientAuthNone needs
	// ClientCAFile.
	ClientAuth ClientAuth
	// ClientCAFile is a PEM file of the CAs that client certificates must
	// chain to.
	ClientCAFile string
	// TicketKeysFile holds session ticket keys (see LoadTicketKeys); empty
	// leaves them to Go, which rotates its own and so resumes sessions
	// only on this process.
	TicketKeysFile string
	// GetCertificate chooses the certificate of a handshake; nil means
	// the Store's. Set it to put ACME (certs/acme) in front of the Store.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

// ServerConfig returns the tls.Config of the edge listener: certificates
// from store (or s.GetCertificate), Go's default cipher suites and curves,
// the settings' minimum version, ALPN and client certificate mode. To
// rotate the session ticket keys later, call SetSessionTicketKeys on the
// returned config with new keys from LoadTicketKeys; it is safe while
// serving.
func ServerConfig(store *Store, s ServerSettings) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{ProtoHTTP11},
	}
	switch s.MinVersion {
	case 0, tls.VersionTLS12:
	case tls.VersionTLS13:
		cfg.MinVersion = tls.VersionTLS13
	default:
		return nil, fmt.Errorf("certs: minimum TLS version %#04x: want TLS 1.2 or 1.3", s.MinVersion)
	}
	if s.ACMEALPN {
		cfg.NextProtos = append(cfg.NextProtos, ProtoACMETLS)
	}
	switch {
	case s.GetCertificate != nil:
		cfg.GetCertificate = s.GetCertificate
	case store != nil:
		cfg.GetCertificate = store.GetCertificate
	default:
		return nil, errors.New("certs: ServerConfig needs a Store or a GetCertificate")
	}
	switch s.ClientAuth {
	case ClientAuthNone:
		if s.ClientCAFile != "" {
			return nil, errors.New("certs: a client CA file without a client_auth mode: set require or verify_if_given")
		}
	case ClientAuthRequire, ClientAuthVerifyIfGiven:
		if s.ClientCAFile == "" {
			return nil, fmt.Errorf("certs: client_auth %s needs a client CA file", s.ClientAuth)
		}
		pool, err := LoadCAPool(s.ClientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if s.ClientAuth == ClientAuthVerifyIfGiven {
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		}
	default:
		return nil, fmt.Errorf("certs: client_auth %q: want require or verify_if_given", s.ClientAuth)
	}
	if s.TicketKeysFile != "" {
		keys, err := LoadTicketKeys(s.TicketKeysFile)
		if err != nil {
			return nil, err
		}
		cfg.SetSessionTicketKeys(keys)
	}
	return cfg, nil
}

// LoadCAPool reads a PEM file of CA certificates into a new pool; a file
// without any certificate is an error naming it.
func LoadCAPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &FileError{Path: file, Err: unwrapPathError(err)}
	}
	if _, err := parseChain(data); err != nil {
		return nil, &FileError{Path: file, Err: err}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, &FileError{Path: file, Err: ErrBadCertificate}
	}
	return pool, nil
}

// ClientIdentity describes the verified client certificate of a
// connection as one header value, or returns "" when the client sent
// none (or it was not verified):
//
//	Subject="CN=alice,O=Example";DNS="alice.example.com";URI="spiffe://example/alice";Email="alice@example.com";IP="10.0.0.7"
//
// Subject comes first, then each SAN kind in that order, each value
// quoted as a Go string with non-ASCII and control characters escaped, so
// the value is always a valid header field.
func ClientIdentity(cs *tls.ConnectionState) string {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return ""
	}
	leaf := cs.VerifiedChains[0][0]
	var b strings.Builder
	b.WriteString("Subject=")
	b.WriteString(strconv.QuoteToASCII(leaf.Subject.String()))
	field := func(key, value string) {
		b.WriteByte(';')
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(strconv.QuoteToASCII(value))
	}
	for _, v := range leaf.DNSNames {
		field("DNS", v)
	}
	for _, v := range leaf.URIs {
		field("URI", v.String())
	}
	for _, v := range leaf.EmailAddresses {
		field("Email", v)
	}
	for _, v := range leaf.IPAddresses {
		field("IP", v.String())
	}
	return b.String()
}
