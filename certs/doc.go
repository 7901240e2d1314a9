// Package certs is the gateway's TLS material: certificate files loaded
// and checked, chosen by server name, swapped while serving, and the
// tls.Config of both ends (the edge listener and connections to
// upstreams). It uses the standard library only, does no HTTP and knows
// nothing of the gateway's config: the gateway builds a Set from its
// config and swaps it into a Store at start and at every reload.
//
// # Loading
//
// LoadPair reads a certificate chain and its key and refuses, with an
// error that names the file, what would fail later: an unreadable file,
// one without PEM, without a certificate or key, a key that does not
// match, a leaf that is expired or not yet valid. The leaf is parsed
// once, here.
//
// # Selection
//
// A Set indexes its pairs by the DNS names of their leaves in two maps,
// exact names and wildcard suffixes, and answers Select with at most two
// map lookups and no allocation: exact name, then a wildcard covering one
// label (*.example.com covers www.example.com only), then the default
// pair, or a refusal under strict SNI (unknown name, or no name at all).
// Names compare without case and without a trailing dot.
//
// # Live certificates
//
// A Store holds the current Set behind an atomic pointer; its
// GetCertificate is the tls.Config's. A reload builds a new Set off to the
// side (a bad file fails there and the Store keeps serving the old one)
// and Swaps it in: handshakes after the swap see the new certificates,
// connections already open keep theirs.
//
// # The edge listener
//
// ServerConfig makes the listener's tls.Config: TLS 1.2 or 1.3 minimum,
// Go's default cipher suites, ALPN http/1.1 (plus acme-tls/1 for ACME's
// TLS-ALPN-01; never h2, which fasthttp cannot serve), optional client
// certificates (require or verify_if_given against a CA file; the
// verified identity as a header value from ClientIdentity), and session
// ticket keys from a file shared by a fleet (LoadTicketKeys).
//
// Listener wraps a net.Listener: every connection shakes hands on its
// own goroutine within a deadline, and only finished handshakes come out
// of Accept. A stalled client, plain HTTP, garbage or a refused name is
// closed there without delaying anyone else, and is reported to the
// optional OnHandshake callback (for metrics) rather than logged.
//
// # Upstreams
//
// ClientConfig makes the tls.Config for connections to an upstream: CA
// file or system roots, optional client certificate, server name, minimum
// version, session resumption. VerifyReason turns a failed handshake into
// a short reason for the log line ("certificate signed by unknown
// authority", "name mismatch", "expired", ...).
//
// # Concurrency
//
// Pair, Set and the configs are immutable once made (but for
// SetSessionTicketKeys, which crypto/tls makes safe while serving); Store
// and Listener are safe for concurrent use.
package certs
