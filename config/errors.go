package config

import (
	"sort"
	"strconv"
	"strings"
)

// FieldError is one problem found in a configuration file. File is the
// file the problem is in: the main file, or one it includes, named as
// Config.Include resolves it. Line and Col are 1-based positions in that
// file; zero means the position is unknown (the file could not be read or
// parsed that far). Field is the path of the setting as File writes it
// ("routes[1].upstream.timeout": routes are counted within their own
// file, so the first route of an included file is routes[0]); it is empty
// for problems of a file as a whole.
type FieldError struct {
	File  string
	Line  int
	Col   int
	Field string
	Msg   string
}

// Error formats the problem as "file:line:col: field: msg", leaving out the
// parts that are unknown. The result is always a single line.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Col))
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return oneLine(b.String())
}

// oneLine escapes line breaks so that every error prints on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// Errors is every problem found in one configuration, ordered by file (the
// main file first, then included files in the order they are read) and by
// position within a file.
// Parse and Load return it (as an error) when the configuration is invalid;
// use errors.As to get at the individual problems.
type Errors []*FieldError

// Error prints one problem per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, fe := range e {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As and errors.Is look at each problem.
func (e Errors) Unwrap() []error {
	out := make([]error, len(e))
	for i, fe := range e {
		out[i] = fe
	}
	return out
}

// localRoutes renumbers the routes in the fields of problems in included
// files, counted across all files, within their file: starts gives each
// included file's first route in the merged list.
func (e Errors) localRoutes(starts map[string]int) Errors {
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

// sorted orders the problems by file, in the order of files (others after,
// by name), then by position, and drops exact repeats (a node reached
// twice through a YAML alias reports its problem once).
func (e Errors) sorted(files []string) Errors {
	rank := make(map[string]int, len(files))
	for i, f := range files {
		if _, ok := rank[f]; !ok {
			rank[f] = i
		}
	}
	rankOf := func(f string) int {
		if r, ok := rank[f]; ok {
			return r
		}
		return len(files)
	}
	sort.SliceStable(e, func(i, j int) bool {
		a, b := e[i], e[j]
		if ra, rb := rankOf(a.File), rankOf(b.File); ra != rb {
			return ra < rb
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	out := e[:0]
	seen := make(map[FieldError]bool, len(e))
	for _, fe := range e {
		if seen[*fe] {
			continue
		}
		seen[*fe] = true
		out = append(out, fe)
	}
	return out
}
