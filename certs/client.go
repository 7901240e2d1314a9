package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
)

// DefaultClientSessionCacheSize is the number of upstream sessions a
// client config remembers for resumption when ClientSettings leave it 0.
const DefaultClientSessionCacheSize = 256

// ClientSettings configure TLS to an upstream. The zero value verifies
// against the system roots, with the dialed host as server name, TLS 1.2
// or later, and session resumption on.
type ClientSettings struct {
	// CAFile is a PEM file of the CAs the upstream's certificate must
	// chain to; empty means the system roots.
	CAFile string
	// CertFile and KeyFile are a client certificate for mTLS to the
	// upstream; both or neither.
	CertFile, KeyFile string
	// ServerName is sent as SNI and verified against the certificate;
	// empty lets the dialer use the target's host.
	ServerName string
	// MinVersion is tls.VersionTLS12 or tls.VersionTLS13; 0 means TLS 1.2.
	MinVersion uint16
	// InsecureSkipVerify accepts any upstream certificate. It exists for
	// tests and migrations; the caller logs a warning whenever it is set.
	InsecureSkipVerify bool
	// SessionCacheSize is how many sessions are kept for resumption; 0
	// means DefaultClientSessionCacheSize.
	SessionCacheSize int
}

// ClientConfig returns a tls.Config for connections to an upstream. It
// reads and checks the files now; errors name the file. One config should
// serve all connections of an upstream pool, so that they share its
// session cache.
func ClientConfig(s ClientSettings) (*tls.Config, error) {
	size := s.SessionCacheSize
	if size <= 0 {
		size = DefaultClientSessionCacheSize
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         s.ServerName,
		InsecureSkipVerify: s.InsecureSkipVerify,
		ClientSessionCache: tls.NewLRUClientSessionCache(size),
	}
	switch s.MinVersion {
	case 0, tls.VersionTLS12:
	case tls.VersionTLS13:
		cfg.MinVersion = tls.VersionTLS13
	default:
		return nil, fmt.Errorf("certs: minimum TLS version %#04x: want TLS 1.2 or 1.3", s.MinVersion)
	}
	if s.CAFile != "" {
		pool, err := LoadCAPool(s.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	switch {
	case s.CertFile != "" && s.KeyFile != "":
		p, err := LoadPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{p.Certificate}
	case s.CertFile != "" || s.KeyFile != "":
		return nil, errors.New("certs: a client certificate needs both a certificate file and a key file")
	}
	return cfg, nil
}

// VerifyReason turns the error of a TLS handshake with an upstream into a
// short reason for a log line: "certificate signed by unknown authority",
// "name mismatch", "expired", "not yet valid", "certificate not valid for
// this use", "refused by upstream: ALERT", "upstream does not speak TLS",
// "timeout", or "handshake failed" for anything else. It returns "" for
// nil.
func VerifyReason(err error) string {
	if err == nil {
		return ""
	}
	var (
		unknown   x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		opErr     *net.OpError
		record    tls.RecordHeaderError
		netErr    net.Error
		unknownP  *x509.UnknownAuthorityError
		hostnameP *x509.HostnameError
	)
	switch {
	case errors.As(err, &unknown), errors.As(err, &unknownP):
		return "certificate signed by unknown authority"
	case errors.As(err, &hostname), errors.As(err, &hostnameP):
		return "name mismatch"
	case errors.As(err, &invalid):
		switch invalid.Reason {
		case x509.Expired:
			if strings.Contains(invalid.Detail, "is before") {
				return "not yet valid"
			}
			return "expired"
		case x509.IncompatibleUsage:
			return "certificate not valid for this use"
		}
		return "certificate invalid"
	case errors.As(err, &opErr) && opErr.Op == "remote error" && opErr.Err != nil:
		// crypto/tls reports the upstream's alert so, its type unexported.
		return "refused by upstream: " + strings.TrimPrefix(opErr.Err.Error(), "tls: ")
	case errors.As(err, &record):
		return "upstream does not speak TLS"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	}
	return "handshake failed"
}
