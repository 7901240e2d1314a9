// Package tour runs the tours of the documentation (the README's quick
// tour and its fleet commands, docs/grpc.md, docs/publish.md, docs/auth.md
// and docs/fleet.md) against the real binaries, so that the commands they
// show and the answers they print cannot drift from what the gateway does.
// Only the sh blocks of the pages and sections its table names run; a
// block marked otherwise (text, yaml) is not a tour. The tools around the
// binaries (curl, grep, jq, wc, and etcdctl and consul, which are not
// installed here) are done in Go with the options the tours use. It holds
// tests only.
package tour
