// Package acme obtains and renews the gateway's certificates with ACME
// (Let's Encrypt or any RFC 8555 CA) through
// github.com/caddyserver/certmagic, and keeps them in a storage that a
// fleet of gateways can share.
//
// # Manager
//
// A Manager holds a list of domains. Start loads their certificates from
// storage and obtains or renews, in the background, the ones missing or
// due (certmagic renews when a third of the lifetime is left, or when the
// CA's renewal information says so); failures are retried with
// certmagic's backoff and never stop the gateway serving.
//
// Challenges are answered by the gateway's own listeners, not by
// listeners of certmagic's: HTTP-01 by the plain listener, which calls
// ServeHTTPChallenge(host, path) for GET /.well-known/acme-challenge/...
// (a function of strings, so the package needs no fasthttp); TLS-ALPN-01
// by the TLS listener, whose tls.Config advertises acme-tls/1
// (certs.ServerSettings.ACMEALPN) and takes its certificates from
// GetCertificateFunc, which puts the Manager in front of the file
// certificates of a certs.Store. Settings.HTTPAddr and TLSAddr name those
// listeners so that certmagic finds their ports taken and leaves them
// alone.
//
// # Storage and fleets
//
// Accounts, keys, certificates and pending challenge answers go to a
// certmagic.Storage: files by default, or RedisStorage, whose lock
// (SET NX with an expiry and a random token, renewed while held) lets a
// fleet sharing one Redis obtain each certificate once: the first
// gateway orders it while the others wait for the lock, then load it.
// Because challenge answers are in the shared storage too, any gateway
// of the fleet can answer the CA's validation request.
//
// # Logs
//
// certmagic logs with zap; the Manager routes those logs into the
// gateway's slog.Logger at the same levels.
//
// # Concurrency
//
// Manager and RedisStorage are safe for concurrent use. Each has a Close
// that stops its background goroutines.
package acme
