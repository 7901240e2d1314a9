package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// The reasons a certificate or key file is refused. A loading error wraps
// one of them (or the file system's error for an unreadable file) in a
// *FileError that names the file: test with errors.Is.
var (
	ErrNotPEM         = errors.New("not PEM: no \"-----BEGIN\" block found")
	ErrNoCertificate  = errors.New("no CERTIFICATE block in the file")
	ErrBadCertificate = errors.New("certificate does not parse")
	ErrNoKey          = errors.New("no private key block (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY) in the file")
	ErrBadKey         = errors.New("private key does not parse")
	ErrKeyMismatch    = errors.New("private key does not match the certificate's public key")
	ErrExpired        = errors.New("certificate expired")
	ErrNotYetValid    = errors.New("certificate not yet valid")
)

// FileError is a refused certificate or key file: Path names the file,
// Err the reason.
type FileError struct {
	Path string
	Err  error
}

// Error reads "certs: PATH: REASON".
func (e *FileError) Error() string { return "certs: " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *FileError) Unwrap() error { return e.Err }

// Pair is a loaded certificate chain with its private key. Certificate.Leaf
// is parsed once at load and never changes; a Pair is immutable and safe
// for concurrent use.
type Pair struct {
	// Certificate is ready for a tls.Config: the chain (leaf first), the
	// key, and the parsed leaf.
	Certificate tls.Certificate
	// CertFile and KeyFile are the files it was loaded from (empty when
	// it was parsed from memory).
	CertFile, KeyFile string
}

// Leaf returns the parsed leaf certificate.
func (p *Pair) Leaf() *x509.Certificate { return p.Certificate.Leaf }

// LoadPair reads a PEM certificate chain (leaf first, then
// intermediates) and its PEM private key (PKCS #8, SEC 1 EC or PKCS #1
// RSA). It refuses, with a *FileError naming the file, a file that cannot
// be read, is not PEM, holds no certificate or no key, a key that does not
// match the leaf, and a leaf that is expired or not yet valid now.
func LoadPair(certFile, keyFile string) (*Pair, error) {
	return loadPair(certFile, keyFile, time.Now())
}

func loadPair(certFile, keyFile string, now time.Time) (*Pair, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, &FileError{Path: certFile, Err: unwrapPathError(err)}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, &FileError{Path: keyFile, Err: unwrapPathError(err)}
	}
	p, err := parsePair(certPEM, keyPEM, certFile, keyFile, now)
	if err != nil {
		return nil, err
	}
	p.CertFile, p.KeyFile = certFile, keyFile
	return p, nil
}

// ParsePair is LoadPair for PEM already in memory; errors name the files
// as "certificate" and "key".
func ParsePair(certPEM, keyPEM []byte) (*Pair, error) {
	return parsePair(certPEM, keyPEM, "certificate", "key", time.Now())
}

func parsePair(certPEM, keyPEM []byte, certName, keyName string, now time.Time) (*Pair, error) {
	chain, err := parseChain(certPEM)
	if err != nil {
		return nil, &FileError{Path: certName, Err: err}
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, &FileError{Path: certName, Err: fmt.Errorf("%w: %v", ErrBadCertificate, err)}
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, &FileError{Path: keyName, Err: err}
	}
	if !publicKeyMatches(leaf.PublicKey, key) {
		return nil, &FileError{Path: keyName, Err: fmt.Errorf("%w in %s", ErrKeyMismatch, certName)}
	}
	if now.After(leaf.NotAfter) {
		return nil, &FileError{Path: certName, Err: fmt.Errorf("%w at %s", ErrExpired, leaf.NotAfter.UTC().Format(time.RFC3339))}
	}
	if now.Before(leaf.NotBefore) {
		return nil, &FileError{Path: certName, Err: fmt.Errorf("%w before %s", ErrNotYetValid, leaf.NotBefore.UTC().Format(time.RFC3339))}
	}
	return &Pair{Certificate: tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}}, nil
}

// parseChain returns the DER of every CERTIFICATE block, in file order.
func parseChain(data []byte) ([][]byte, error) {
	var chain [][]byte
	sawPEM := false
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		sawPEM = true
		if block.Type == "CERTIFICATE" {
			chain = append(chain, block.Bytes)
		}
	}
	switch {
	case !sawPEM:
		return nil, ErrNotPEM
	case len(chain) == 0:
		return nil, ErrNoCertificate
	}
	return chain, nil
}

// parseKey returns the first private key block's key.
func parseKey(data []byte) (crypto.Signer, error) {
	sawPEM := false
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		sawPEM = true
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: %T is not a signing key", ErrBadKey, key)
		}
		return signer, nil
	}
	if !sawPEM {
		return nil, ErrNotPEM
	}
	return nil, ErrNoKey
}

func publicKeyMatches(pub crypto.PublicKey, key crypto.Signer) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
	default:
		return false
	}
	eq, ok := pub.(equaler)
	return ok && eq.Equal(key.Public())
}

// unwrapPathError drops the path from an *os.PathError: FileError names
// the file already.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("cannot read: %w", pe.Err)
	}
	return err
}
