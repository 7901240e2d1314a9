// Package tour runs the README's tours (the quick tour, the gRPC tour and
// the publish tour) against the real binaries, so that the commands the
// README shows and the answers it prints cannot drift from what the
// gateway does. It holds tests only.
package tour
