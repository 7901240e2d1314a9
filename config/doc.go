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
// every problem, ordered by position, one per line:
//
//	gateway.yaml:12:16: routes[1].upstream.timeout: must be > 0
//
// # Concurrency
//
// A Config is not changed after Parse returns it; its methods may be
// called from many goroutines at once.
package config
