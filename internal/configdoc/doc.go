// Command configdoc writes the configuration reference, docs/config-reference.md,
// from the types of the config package and their doc comments: one table
// per configuration type, in the order the keys are reached from the top
// of the file, with each field's key, Go type, range tag and comment.
//
// Run it from the repository's root after changing a config type:
//
//	make docs
//	go run ./internal/configdoc -o docs/config-reference.md
//
// TestReferenceUpToDate fails when the checked-in reference and the types
// differ.
package main
