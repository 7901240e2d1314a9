package upstream

import "errors"

// Kind classifies an error returned by [Client.Do] or by a streamed body.
// Its String form is a short, stable, lower-case metric label.
type Kind uint8

// Kinds of errors. None is the kind of a nil error.
const (
	None          Kind = iota // no error
	Connect                   // the connection could not be established
	Timeout                   // the deadline, or a per-read timeout, was reached
	Reset                     // the upstream closed or reset the connection before the response was complete
	Protocol                  // the upstream sent something that is not a valid HTTP/1.1 response
	PoolExhausted             // all MaxConns connections were busy for ConnWaitTimeout
	TooLarge                  // the response body is larger than MaxResponseBody
	Other                     // anything else (the Client was closed)
	Request                   // the request could not be sent for a reason of its own: the upstream is not at fault
)

var kindNames = [...]string{
	None:          "none",
	Connect:       "connect",
	Timeout:       "timeout",
	Reset:         "reset",
	Protocol:      "protocol",
	PoolExhausted: "pool_exhausted",
	TooLarge:      "too_large",
	Other:         "other",
	Request:       "request",
}

// String returns the kind's metric label, e.g. "connect" or "timeout".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "other"
}

// Error is the type of the package's sentinel errors. Values are
// preallocated and immutable (safe for concurrent use); compare them with
// == or errors.Is.
type Error struct {
	kind Kind
	msg  string
}

func (e *Error) Error() string { return e.msg }

// Kind returns the error's kind.
func (e *Error) Kind() Kind { return e.kind }

// Timeout reports whether the error is a timeout, as net.Error does.
func (e *Error) Timeout() bool { return e.kind == Timeout }

// Sentinel errors. Do and streamed bodies return exactly these values, never
// wrapped, so that the request path does not allocate.
var (
	// ErrConnect: dialing failed (refused, unreachable, ConnectTimeout). No
	// byte of the request reached the upstream; the caller may try another
	// target.
	ErrConnect = &Error{Connect, "upstream: cannot connect; check that the upstream is up and reachable"}
	// ErrTLS: the TLS handshake with the upstream failed (its certificate
	// did not verify, a protocol or version mismatch, the upstream does
	// not speak TLS). Its kind is Connect: no byte of the request reached
	// the upstream, and it counts against the target's health like a
	// refused connection. Client.LastTLSError says why.
	ErrTLS = &Error{Connect, "upstream: TLS handshake with the upstream failed"}
	// ErrTimeout: the deadline passed during connect, write or reading the
	// response head, or a streamed body read took longer than ReadTimeout.
	// The connection is closed.
	ErrTimeout = &Error{Timeout, "upstream: timed out waiting for the upstream"}
	// ErrReset: the upstream closed or reset the connection before the
	// response head was complete, or in the middle of a streamed body.
	ErrReset = &Error{Reset, "upstream: connection closed by the upstream before the response was complete"}
	// ErrBodyReset is ErrReset for a body Do reads whole (Content-Length
	// up to MaxBufferedBody): the head came complete and the upstream
	// broke its answer in the body. See AfterHead.
	ErrBodyReset = &Error{Reset, "upstream: connection closed by the upstream in the middle of the response body"}
	// ErrBodyTimeout is ErrTimeout for a body Do reads whole: the head
	// came and the body did not within the deadline. See AfterHead.
	ErrBodyTimeout = &Error{Timeout, "upstream: timed out reading the response body"}
	// ErrProtocol: invalid status line or headers, conflicting framing, a
	// head larger than MaxResponseHeaderBytes, bad chunked encoding, or an
	// unsupported 101 Switching Protocols.
	ErrProtocol = &Error{Protocol, "upstream: invalid HTTP response from the upstream"}
	// ErrPoolExhausted: MaxConns connections were busy and none was freed
	// within ConnWaitTimeout (or before the deadline).
	ErrPoolExhausted = &Error{PoolExhausted, "upstream: connection pool exhausted; raise MaxConns or ConnWaitTimeout"}
	// ErrTooLarge: the response body is larger than MaxResponseBody. The
	// connection is closed.
	ErrTooLarge = &Error{TooLarge, "upstream: response body larger than the limit"}
	// ErrClosed: the Client was closed.
	ErrClosed = &Error{Other, "upstream: client closed"}
	// ErrRequest: the request could not be sent for a reason of its own:
	// its body stream failed or gave a different length than announced, or
	// it has no Host. The upstream is not at fault: callers must not count
	// it against the upstream's health.
	ErrRequest = &Error{Request, "upstream: request could not be sent (body stream failed or request invalid)"}
)

// AfterHead reports whether err, returned by Do, came after the upstream
// had sent its whole head: it broke or stalled the body that Do was
// reading whole (ErrBodyReset, ErrBodyTimeout). Like a streamed body's
// failure, that says more about the upstream than a failure before it
// answered at all.
func AfterHead(err error) bool { return err == ErrBodyReset || err == ErrBodyTimeout }

// KindOf returns the kind of err: None for nil, the kind of the first of
// this package's errors found in err's chain, Timeout for other errors that
// report Timeout() == true, and Other for the rest.
func KindOf(err error) Kind {
	if err == nil {
		return None
	}
	for err != nil {
		switch e := err.(type) {
		case *Error:
			return e.kind
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				if k := KindOf(x); k != Other {
					return k
				}
			}
			return Other
		case interface{ Timeout() bool }:
			if e.Timeout() {
				return Timeout
			}
		}
		err = errors.Unwrap(err)
	}
	return Other
}
