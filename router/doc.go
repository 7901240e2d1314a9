// Package router is the gateway's route table: Compile turns a list of
// Rules into an immutable Table, and Table.Match finds the rule for a
// request's method, host and path without allocating and in time that
// does not grow with the number of rules. It does no I/O.
//
// # Rules
//
// A rule matches on host, method and path:
//
//   - Host: "" matches any host; "api.example.com" that host only;
//     "*.example.com" any host below example.com at any depth
//     (a.example.com, a.b.example.com) but not example.com itself.
//   - Methods: empty matches any method. Names are upper-cased by Compile
//     and compared with the request's method case-sensitively (HTTP
//     methods are case-sensitive). A method that no rule names matches
//     only rules without methods. HEAD is not implied by GET.
//   - Path (exact): "/hello" matches "/hello" only.
//   - Path (template): "/users/{id}/posts/{post}". A parameter "{name}"
//     is a whole segment and captures one non-empty segment. A last
//     segment "{name...}" is a catch-all: it captures the rest of the path
//     after the preceding '/', slashes included, possibly empty;
//     "/files/{p...}" matches "/files/" and "/files/a/b" but not "/files".
//   - PathPrefix: a plain byte prefix. "/demo/" matches "/demo/" and
//     "/demo/x"; "/demo" matches "/demo" and "/demo/x" but also "/demox".
//
// Paths are matched byte for byte as given: no percent-decoding, no
// cleaning of "//", "." or "..", and a trailing slash matters ("/a/" is
// not "/a"). Normalize before calling Match if that is wanted
// (fasthttp's RequestCtx.Path is already decoded and cleaned).
//
// # Host matching
//
// The request's host is compared case-insensitively (ASCII), with its
// port (":8080", also in "[::1]:8080") and one trailing dot ignored. A
// host longer than 255 bytes, or an empty one, matches only any-host
// rules. A rule's host must not carry a port.
//
// # Precedence
//
// Match returns one rule, chosen the same way every time:
//
//  1. Host groups, most specific first: the exact host, then wildcard
//     hosts from the longest suffix to the shortest ("*.b.example.com"
//     before "*.example.com"), then any-host rules. The first group that
//     has a match wins.
//  2. Within a group: an exact path, then a template, then a catch-all
//     template, then the longest prefix.
//  3. Among templates, segment by segment from the left, a literal segment
//     beats a parameter, and (for catch-alls) a parameter beats the
//     catch-all: "/u/me" beats "/u/{id}", "/a/{x}/c" beats "/a/{x}/{y}",
//     "/a/b/{r...}" beats "/a/{r...}".
//
// A rule whose methods do not include the request's method does not
// match, and the search goes on as if it were not there: to a less
// specific template, a shorter prefix, or the next host group.
//
// # Conflicts
//
// Compile rejects two rules with the same host, the same kind of path
// (exact, template, prefix) and the same path, templates compared by shape
// ("/u/{id}" is "/u/{name}"), when their methods overlap (no methods
// overlaps everything). The error lists each rule that conflicts with an
// earlier one as a *ConflictError, with the rule errors (*RuleError) of
// invalid rules, joined by errors.Join. Rules that differ only in methods
// (GET and POST on "/x") or only in host do not conflict.
//
// # Concurrency and memory
//
// A Table is immutable and safe for concurrent use. A Params is owned by
// one caller at a time and reused; its values borrow the path passed to
// Match and stay valid only while that buffer does.
package router
