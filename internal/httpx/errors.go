package httpx

import "github.com/valyala/fasthttp"

// Error is an error the client is answered with, and the HTTP status of
// that answer. The package's errors are preallocated values, compared by
// identity and never changed (so safe to share between requests); none is
// built on the request path.
type Error struct {
	Status int    // the HTTP status of the answer
	Msg    string // what the answer's body says
}

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

// StatusCode returns the HTTP status of the answer.
func (e *Error) StatusCode() int { return e.Status }

// StatusClientClosed is nginx's status for a client that closed its
// connection before the answer: no standard status says it.
const StatusClientClosed = 499

// AllowedMethods is the Allow header of the 405 that answers
// ErrMethodNotAllowed: what a route that takes any method takes, TRACE
// and CONNECT aside.
const AllowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

// The errors of a request the gateway refuses before anything routes on
// it, and of a request body that fails through the client's fault.
var (
	// ErrBadRequest answers a malformed request: framing (BadFraming), a
	// target against the path policy (CheckTarget), a broken chunked body.
	ErrBadRequest = &Error{fasthttp.StatusBadRequest, "malformed request"}
	// ErrMethodNotAllowed answers TRACE on a route that does not list it
	// (with AllowedMethods in Allow).
	ErrMethodNotAllowed = &Error{fasthttp.StatusMethodNotAllowed, "method not allowed"}
	// ErrRequestTimeout answers a request whose head or body did not
	// arrive in time.
	ErrRequestTimeout = &Error{fasthttp.StatusRequestTimeout, "request not received in time"}
	// ErrBodyTooLarge answers a request body over its route's limit.
	ErrBodyTooLarge = &Error{fasthttp.StatusRequestEntityTooLarge, "request body too large"}
	// ErrChunkedTooLarge ends the read of a chunked request body that
	// outgrew its limit while streaming upstream; the client is answered
	// ErrBodyTooLarge (see LimitedBody.Failure).
	ErrChunkedTooLarge = &Error{fasthttp.StatusRequestEntityTooLarge, "gateway: request body too large"}
	// ErrURITooLong answers a request target over server.max_uri_length.
	ErrURITooLong = &Error{fasthttp.StatusRequestURITooLong, "request URI too long"}
	// ErrHeaderTooLarge answers a request head over the header size or
	// count limits.
	ErrHeaderTooLarge = &Error{fasthttp.StatusRequestHeaderFieldsTooLarge, "request header too large"}
	// ErrVersionNotSupported answers a request line whose version is not
	// HTTP/1.x (see CheckVersion).
	ErrVersionNotSupported = &Error{fasthttp.StatusHTTPVersionNotSupported, "http version not supported"}
	// ErrClientClosed: the client went away before its request body was
	// complete. Answered 499, as nginx logs it; nobody reads the answer.
	ErrClientClosed = &Error{StatusClientClosed, "client closed the request"}
)
