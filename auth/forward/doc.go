// Package forward is the forward-auth client: it asks an HTTP endpoint
// whether a request may pass, as nginx auth_request, Traefik forwardAuth
// and Envoy ext_authz do.
//
// The call goes to the configured URL with the request's method, the
// request headers the route names, and X-Forwarded-Method,
// X-Forwarded-Uri, X-Forwarded-Proto, X-Forwarded-Host and
// X-Forwarded-For set from what the caller passes in Forwarded (data the
// gateway trusts: its own view of the connection and of trusted proxies).
// Inbound copies of those headers are never passed on, and the settings
// refuse to name them, so a client cannot spoof its address or scheme to
// the deciding service. The request body is sent only with SendBody, up
// to a cap.
//
// A 2xx answer admits the request and yields the allow-listed headers to
// add upstream. Any other answer refuses it, and yields what goes back to
// the client: the status, the allow-listed headers and the body. The
// client fails closed: a timeout, a connection error, a body over the cap
// (however long the endpoint would stream) or a malformed answer is an
// error, for the caller to answer 503. fasthttp's retries are off.
//
// Decisions may be cached for a TTL, keyed by a SHA-256 of the values of
// the headers the route names (and the method and path if asked), so a
// client repeating its credential is not re-checked on every request.
// Only 2xx, 401 and 403 answers are cached.
package forward
