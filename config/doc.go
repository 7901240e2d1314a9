// Package config holds the gateway's configuration schema as plain data,
// and reads it from YAML: strict decoding, environment substitution,
// defaults, and validation that reports every problem with its position.
//
// # Reading
//
// Load and Parse decode the YAML by walking its node tree next to the
// schema structs, so that
//
//   - a key the schema does not know is an error (keys at the top level
//     that start with "x-" are ignored: they can hold YAML anchors);
//   - a value of the wrong type, and a key written twice, are errors;
//   - every field's line and column are kept, for errors and for
//     Config.Position.
//
// YAML anchors, aliases and merge keys ("<<: *defaults") work as usual;
// keys written out win over merged ones.
//
// Durations are Go duration strings ("2s", "1m30s"). Sizes (ByteSize) are
// whole numbers of bytes or strings with a unit: B, KB, MB, GB (powers of
// 1000), KiB, MiB, GiB (powers of 1024).
//
// # Included files
//
// The main file may name more files under include, as paths or globs
// relative to its directory ("routes.d/*.yaml"); see Config.Include for
// how they are matched. An included file holds only a routes list (and
// "x-" keys for its own anchors) and cannot include others. Its routes
// are appended after the main file's, file by file, and everything else
// (environment substitution, defaults, validation, Redacted, Hash) sees
// the merged configuration: route names are unique across all files.
// Config.Files lists the files read and Config.Includes the patterns, for
// a reloader to watch.
//
// Errors in an included file name that file and the line and column in
// it, and number its routes within it (its first route is "routes[0]").
// Config.Routes, and the field paths of Config.PositionOf, number routes
// across all files, the main file's first ("routes[5].name" may be the
// first route of the second file); Config.LocalField turns such a path
// into the one errors show. A problem
// with an include entry itself (no such file, a malformed glob) is
// reported at the entry in the main file.
//
// Load reads included files from the operating system's file system,
// LoadFS from an fs.FS, and Parse from the operating system's, relative to
// the directory of the file name it is given.
//
// Each included file is decoded, given its defaults and checked on its
// own, against the main file's settings (a few files at once); the rules
// that relate routes across files (unique names, shared buckets, the
// Checks) run on the merged list. A Loader, which loads one
// configuration again and again, keeps each file's result and reuses it
// while the file's bytes, the environment variables it refers to and the
// main file are unchanged (Config.UnchangedRoutes tells which routes it
// kept).
//
// # Environment
//
// In any scalar value, ${NAME} is replaced by the environment variable NAME
// (an error when it is not set) and ${NAME:-default} by NAME, or by default
// when NAME is unset or empty; $${ is a literal "${". A value holding a
// reference may stand for any type ("max_conns: ${CONNS:-512}"). Every
// such value counts as a secret: Config.Redacted hides it, and errors do
// not print it.
//
// # Errors
//
// When a configuration is invalid, Load and Parse return an Errors listing
// every problem, ordered by file (the main file first) and position, one
// per line:
//
//	gateway.yaml:12:16: routes[1].upstream.timeout: must be > 0
//	routes.d/users.yaml:3:11: routes[4].name: "users": already the name of routes[0] (gateway.yaml:8)
//
// # Layout
//
// The generic YAML machinery (strict decoding with positions, environment
// references, includes and globs, the range, reload and redact struct
// tags) is package config/yamlcodec, which knows nothing of routes. This
// package holds the schema, one file per feature, each with the feature's
// types, its defaults and its checks: route.go (routes, matching, header
// changes), respond.go, upstream.go, grpc.go, publish.go, brokers.go,
// ratelimit.go, breaker.go, fallback.go (and the fallback cache),
// discovery.go, redis.go, server.go, admin.go and observability.go.
// config.go holds Config and the order in which the features' defaults
// and checks run (route.go the same for a route), so that a new section
// is a file, one field of Config or Route, and a line in each of those
// two places. codec.go lists the schema's types that the codec reads in a
// syntax of their own (ByteSize, Rate, Target's short form).
//
// # Concurrency
//
// A Config is not changed after Parse returns it; its methods may be
// called from many goroutines at once. Configurations that one Loader
// loaded share the settings of the routes it kept: treat them as
// read-only. A Loader is safe for concurrent use.
package config
