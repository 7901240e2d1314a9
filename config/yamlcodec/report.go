package yamlcodec

import (
	"fmt"
	"strconv"
)

// A Record is what a Decoder recorded of one path.
type Record struct {
	// Pos is where the path was written, when Written.
	Pos     Position
	Written bool
	// Secret: the value came through an environment reference. Bad: it
	// failed to decode.
	Secret, Bad bool
}

// A Reporter collects the problems that checks of decoded values find,
// each placed at the position of its field, or of the nearest enclosing
// field a file wrote. It stays quiet about fields that failed to decode
// (they are reported already) and does not print values that came from
// the environment. Its maps are a Decoder's.
type Reporter struct {
	// File is the main file, where a problem without any recorded
	// position is placed.
	File string
	// Pos, Bad and Secrets are a Decoder's records.
	Pos     *Positions
	Bad     map[string]bool
	Secrets map[string]bool
	// More looks up the paths that Pos, Bad and Secrets do not hold
	// (records kept apart, such as those of an included file decoded by
	// a Decoder of its own). Nil: none.
	More func(path string) Record
	// Errs are the problems found so far.
	Errs Errors
}

// Errorf reports a problem with the field at path, unless path or a field
// that holds it failed to decode.
func (r *Reporter) Errorf(path, format string, args ...any) {
	for p := path; ; p = parentPath(p) {
		if r.Bad[p] || r.More != nil && r.More(p).Bad {
			return // a consequence of a decode error, not a new problem
		}
		if p == "" {
			break
		}
	}
	at := r.At(path)
	r.Errs = append(r.Errs, &FieldError{
		File: at.File, Line: at.Line, Col: at.Col, Field: path,
		Msg: fmt.Sprintf(format, args...),
	})
}

// Invalid reports a bad value, quoting it unless it came from the
// environment: such values may be secrets, and errors end up in logs.
func (r *Reporter) Invalid(path string, value any, msg string) {
	if r.Secret(path) {
		r.Errorf(path, "the value from the environment: %s", msg)
		return
	}
	if s, ok := value.(string); ok {
		value = strconv.Quote(s)
	}
	r.Errorf(path, "%v: %s", value, msg)
}

// At is where path was written, or the nearest enclosing field that was;
// the main file without a line when there is none.
func (r *Reporter) At(path string) Position {
	for p := path; ; p = parentPath(p) {
		if pos, ok := r.pos(p); ok {
			return pos
		}
		if p == "" {
			return Position{File: r.File}
		}
	}
}

// Where is " (line N)" for a recorded path in the file that from is in,
// " (file:N)" for one in another file, or "", for a message at from that
// refers to path.
func (r *Reporter) Where(path, from string) string {
	pos, ok := r.pos(path)
	switch {
	case !ok:
		return ""
	case pos.File == r.At(from).File:
		return " (line " + strconv.Itoa(pos.Line) + ")"
	default:
		return " (" + pos.File + ":" + strconv.Itoa(pos.Line) + ")"
	}
}

// pos is where path was written, from Pos or More.
func (r *Reporter) pos(path string) (Position, bool) {
	if pos, ok := r.Pos.Get(path); ok {
		return pos, true
	}
	if r.More != nil {
		rec := r.More(path)
		return rec.Pos, rec.Written
	}
	return Position{}, false
}

// Secret reports whether the value at path came from the environment.
func (r *Reporter) Secret(path string) bool {
	if r.Secrets[path] {
		return true
	}
	return r.More != nil && r.More(path).Secret
}
