// Package accesslog writes the gateway's access log: one line per
// request, formatted on the request path but written off it.
//
// Logger.Log formats an Entry on the caller's stack and appends the line
// to a bounded buffer of waiting lines; a goroutine of the Logger's own
// swaps that buffer for an empty one and writes the lines to
// Settings.Output in one call. The guarantees:
//
//   - Log never waits for I/O. It holds a mutex only to append a line;
//     the writer goroutine holds it only to swap buffers, never while it
//     writes. A slow or stuck Output makes the buffer fill; then Log
//     drops the line and returns false.
//   - Drops are counted. Dropped is the number of Log calls that returned
//     false: buffer full, or Logger closed.
//   - Order is kept. Accepted lines (Log returned true) are written in the
//     order they were accepted, so one goroutine's lines appear in the
//     order of its calls, and none is lost: Close writes every accepted
//     line before it returns. A line is lost only when Output fails
//     (Close returns Output's first error).
//   - In steady state Log allocates nothing (a test holds this).
//
// Lines are written in batches, not one write per line: as soon as 64 KiB
// of lines (or half the buffer) wait, and otherwise at most once per
// Settings.FlushInterval, at once when the last such write is older. Under
// load writes are large, an idle log is on disk within FlushInterval, and
// the writer goroutine sleeps while no line waits.
//
// # Formats
//
// FormatJSON (the default) writes one object per line with the fields in
// this order; those marked ? are left out when empty (a byte count when
// negative, upstream_ms when upstream is):
//
//	time         RFC 3339 in UTC with milliseconds
//	request_id?  trace_id?  client?  method  host?  path  query?  proto?
//	tls_version?  sni?        over TLS: "1.2" or "1.3", the client's server name
//	route?
//	status       number
//	bytes_in?    bytes_out?   numbers
//	duration_ms  number, 3 decimals
//	upstream?    upstream_ms?  source?  error?  upstream_error?
//	headers?     object: lower-case header name to value
//
// For example (one line):
//
//	{"time":"2026-03-01T12:00:00.123Z","request_id":"req-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","client":"203.0.113.7","method":"GET","host":"api.example.com","path":"/users/7","query":"fields=name","proto":"HTTP/1.1","route":"users","status":200,"bytes_in":0,"bytes_out":512,"duration_ms":12.345,"upstream":"10.0.0.5:8080","upstream_ms":11.002,"source":"upstream","headers":{"user-agent":"curl/8.5.0"}}
//
// Strings are escaped for JSON by the package itself: '"', '\\', every
// control character (C0, DEL, C1) and U+2028/U+2029 as escapes, each
// byte of invalid UTF-8 as \ufffd. Any bytes give one valid JSON line.
//
// FormatCommon writes the NCSA common log format, time in UTC, followed
// by the request id in quotes and the duration in milliseconds; an empty
// field is "-", so is a byte count of 0 or less. '"' and '\\' are escaped
// by a backslash, control characters and non-ASCII bytes as \xhh (and the
// space in the unquoted client field). Route, upstream, source and
// headers are not written. For example:
//
//	203.0.113.7 - - [01/Mar/2026:12:00:00 +0000] "GET /users/7?fields=name HTTP/1.1" 200 512 "req-1" 12.345
package accesslog
