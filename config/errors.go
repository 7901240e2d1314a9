package config

import (
	"strconv"
	"strings"

	"github.com/fastgate/gateway/config/yamlcodec"
)

// FieldError is one problem found in a configuration file. File is the
// file the problem is in: the main file, or one it includes, named as
// Config.Include resolves it. Line and Col are 1-based positions in that
// file; zero means the position is unknown (the file could not be read or
// parsed that far). Field is the path of the setting as File writes it
// ("routes[1].upstream.timeout": routes are counted within their own
// file, so the first route of an included file is routes[0]); it is empty
// for problems of a file as a whole.
type FieldError = yamlcodec.FieldError

// Errors is every problem found in one configuration, ordered by file (the
// main file first, then included files in the order they are read) and by
// position within a file.
// Parse and Load return it (as an error) when the configuration is invalid;
// use errors.As to get at the individual problems.
type Errors = yamlcodec.Errors

// localRoutes renumbers the routes in the fields of problems in included
// files, counted across all files, within their file: starts gives each
// included file's first route in the merged list.
func localRoutes(e Errors, starts map[string]int) Errors {
	for _, fe := range e {
		if start, ok := starts[fe.File]; ok && start > 0 {
			fe.Field = localRoute(fe.Field, start)
		}
	}
	return e
}

// localRoute renumbers the route that path starts with, "routes[N]...", by
// subtracting start.
func localRoute(path string, start int) string {
	rest, ok := strings.CutPrefix(path, "routes[")
	if !ok {
		return path
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return path
	}
	n, err := strconv.Atoi(rest[:end])
	if err != nil || n < start {
		return path
	}
	return "routes[" + strconv.Itoa(n-start) + rest[end:]
}
