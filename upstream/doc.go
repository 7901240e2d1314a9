// Package upstream is the gateway's HTTP/1.1 client for one upstream target.
//
// A [Client] owns a bounded pool of keep-alive connections to one "host:port"
// and sends a [fasthttp.Request] over one of them, filling a
// [fasthttp.Response] in place. It exists because fasthttp's HostClient either
// buffers whole bodies or allocates per streamed response, and it retries
// behind the caller's back. This client:
//
//   - allocates nothing per request in steady state, for buffered and for
//     streamed responses alike;
//   - reads small bodies (Content-Length up to Settings.MaxBufferedBody) whole
//     and gives the connection back before [Client.Do] returns; larger,
//     chunked and until-close bodies are streamed: the response gets a pooled
//     body stream (io.Reader, io.Closer and fasthttp.BodyWriterTo) that reads
//     exactly the body from the connection and frees the connection on Close;
//   - reports every failure as one of a few preallocated sentinel errors whose
//     [Kind] is a metric label (connect, timeout, reset, protocol,
//     pool_exhausted, other);
//   - retries exactly one case, transparently: a reused idle connection that
//     the upstream had closed, found out before any response byte arrived,
//     when the request can be sent again (see [Client.Do]); requests that
//     cannot be sent again, and any request on a connection idle for a
//     tenth of a second or more, only go out on idle connections that pass a
//     non-blocking liveness check (no close from the upstream, no bytes it
//     sent after its last answer);
//   - yields the processor once (runtime.Gosched) between writing a
//     request and the first read of its answer, so that the read less
//     often comes before the answer and costs a system call for nothing
//     (EAGAIN); after a large answer, that first read on a plain
//     connection is a readv that takes the body's first bytes into a
//     pooled block with the head, and [Prefetch] reads what has come of
//     the rest rather than only checking for a close, so that a large
//     body costs as few reads as it can; [WriteFirstTo] then has the
//     body's first bytes written with one writev;
//   - keeps connection-level matters to itself: the upstream's
//     Connection: close shuts the upstream connection, not the caller's, and
//     the response's protocol is HTTP/1.1.
//
// Timeouts: the deadline passed to Do bounds connecting, writing and
// reading the head (and a buffered body); ReadTimeout bounds each read of a
// streamed body, which outlives Do. Time is read once per Do, plus once per
// write after the first and once per network read of a streamed body.
//
// Parsing and writing use fasthttp's exported primitives (Request.Write,
// ResponseHeader.Read, Response.ReadBody, Response.SetBodyStream); framing
// checks that fasthttp is lenient about (Content-Length together with
// Transfer-Encoding, chunk syntax) are done here, strictly.
package upstream
