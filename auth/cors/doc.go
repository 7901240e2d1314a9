// Package cors answers CORS preflights and adds the CORS headers of a
// normal answer, over fasthttp headers and without allocating.
//
// Only an OPTIONS request carrying both Origin and
// Access-Control-Request-Method is a preflight (a bare OPTIONS is an
// ordinary request for the route). The gateway answers preflights itself,
// before any authentication, since browsers send them without
// credentials. Every answer, allowed or not, says Vary: Origin, so a
// cache never serves one origin's answer to another; a disallowed origin
// gets no CORS header at all.
package cors
