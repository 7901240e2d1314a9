// Package tour runs the tours of the documentation (the README's quick
// tour, docs/grpc.md, docs/publish.md and docs/auth.md) against the real
// binaries, so that the commands they show and the answers they print
// cannot drift from what the gateway does. It holds tests only.
package tour
