// Package yamlcodec reads YAML into plain Go structs strictly and with
// positions, and writes them back; it knows nothing of any one schema.
//
// A schema is a tree of structs whose exported fields carry yaml tags
// (yaml:"name"), built from strings, ints, float64s, bools,
// time.Duration, pointers, slices, maps with string keys, and named types
// the schema teaches the codec through a Type. Decoding walks the
// yaml.Node tree next to the structs, so that
//
//   - a key the struct does not know is an error, with a suggestion when
//     it looks like a typo; so are a value of the wrong type and a key
//     written twice; every problem is collected, not only the first;
//   - the file, line and column of every field path
//     ("routes[3].upstream.timeout", `set["odd key"]`) are recorded;
//   - in any scalar, ${NAME} and ${NAME:-default} are replaced by
//     environment variables (Expand), and such values are marked, so that
//     errors and Encode do not show them;
//   - YAML anchors, aliases and merge keys work, within a budget of nodes
//     that keeps aliases from blowing up a small file.
//
// Around the decoder: ReadDocument reads one file's single document
// (ReadDocumentList parses a long top-level list of it in pieces at once);
// Decoder.Include reads the files that a list of paths and globs names,
// through a Source (the operating system's file system or an fs.FS);
// FieldError and Errors print problems as "file:line:col: field: msg".
//
// Three struct tags drive checks and output generically:
//
//   - range:"MIN,MAX" (or "MIN,MAX,zero") on a number, duration or sized
//     field: Codec.CheckRanges reports values outside it;
//   - reload:"restart" on a field: WalkSettings tells settings that wait
//     for a restart from those that apply at once;
//   - redact:"secret" (the whole value) or redact:"url" (user info and
//     query values of URLs) on a string field: Codec.Encode hides them.
//
// # Concurrency
//
// A Codec is immutable after New and may be used from many goroutines.
// A Decoder, a Reporter and an Encoder belong to one goroutine.
package yamlcodec
