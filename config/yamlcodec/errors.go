package yamlcodec

import (
	"sort"
	"strconv"
	"strings"
)

// FieldError is one problem found in a YAML file. File is the file the
// problem is in, as the caller names it. Line and Col are 1-based
// positions in that file; zero means the position is unknown (the file
// could not be read or parsed that far). Field is the path of the setting
// ("routes[1].upstream.timeout"); it is empty for problems of a file as a
// whole.
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
	return OneLine(b.String())
}

// OneLine escapes line breaks so that s prints on one line.
func OneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// Errors is every problem found in one document and the files it
// includes; Sorted orders them by file and position.
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

// Sorted orders the problems by file, in the order of files (others after,
// by name), then by position, and drops exact repeats (a node reached
// twice through a YAML alias reports its problem once). It reorders e in
// place and returns it, shortened.
func (e Errors) Sorted(files []string) Errors {
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
