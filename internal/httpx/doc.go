// Package httpx holds the gateway's HTTP hygiene: the checks and rewrites
// every request passes through before it is routed and forwarded, kept
// apart from the route pipeline that calls them.
//
//   - framing: request heads a server after the gateway could read
//     differently (BadFraming, HeaderLines, CheckVersion), and the request
//     line's version on the way upstream (UpstreamHTTP11, RestoreHTTP10);
//   - paths: the path policy of request targets (CheckTarget);
//   - headers: hop-by-hop headers and the headers the proxy acts on
//     (ScanRequestHeaders, StripRequestHopByHop, ...), request ids;
//   - forwarded: trusted proxies and X-Forwarded-*, X-Real-IP
//     (TrustedProxies, SetForwarded), the client's address (ClientAddr);
//   - body limit: a streamed request body cut at a limit, whose failures
//     are told apart as the client's (WatchBody).
//
// Every function here runs on each request: none allocates, and none
// keeps a slice of the request after it returns. Their errors are
// preallocated [*Error] values that carry the status the client gets.
package httpx
