package grpcbridge

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The functions of this file run only when a body failed to decode: they
// turn protojson's "(line L:C)" into the path of the field there, so the
// error names "user.address.zip" and not only "zip".

// maxPathTokens bounds the walk of jsonPathAt.
const maxPathTokens = 1 << 20

// errorOffset finds "(line L:C)" in msg and returns the byte offset in
// body it stands for (C counts runes from 1).
func errorOffset(body []byte, msg string) (int, bool) {
	i := strings.Index(msg, "(line ")
	if i < 0 {
		return 0, false
	}
	rest := msg[i+len("(line "):]
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return 0, false
	}
	ls, cs, ok := strings.Cut(rest[:end], ":")
	if !ok {
		return 0, false
	}
	line, err1 := strconv.Atoi(ls)
	col, err2 := strconv.Atoi(cs)
	if err1 != nil || err2 != nil || line < 1 || col < 1 {
		return 0, false
	}
	off := 0
	for l := 1; l < line; l++ {
		j := bytes.IndexByte(body[off:], '\n')
		if j < 0 {
			return 0, false
		}
		off += j + 1
	}
	for c := 1; c < col && off < len(body); c++ {
		_, size := utf8.DecodeRune(body[off:])
		off += size
	}
	return off, true
}

// pathFrame is one open object or array of jsonPathAt's walk.
type pathFrame struct {
	array   bool
	key     string // object: the current key
	wantKey bool   // object: the next token is a key
	index   int    // array: the current element
}

// jsonPathAt returns the path ("a.b[2].c") of the key or value whose
// token spans byte offset off of body, or of the last one before a
// syntax error.
func jsonPathAt(body []byte, off int) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []pathFrame
	for n := 0; n < maxPathTokens; n++ {
		tok, err := dec.Token()
		if err != nil {
			return framePath(stack)
		}
		end := int(dec.InputOffset())
		var top *pathFrame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if top != nil && !top.array && top.wantKey {
			if d, isDelim := tok.(json.Delim); isDelim && d == '}' {
				stack = stack[:len(stack)-1]
				valueDone(stack)
				if end > off {
					return framePath(stack)
				}
				continue
			}
			top.key, _ = tok.(string)
			top.wantKey = false
			if end > off {
				return framePath(stack)
			}
			continue
		}
		if end > off {
			if d, isDelim := tok.(json.Delim); isDelim && (d == '}' || d == ']') && len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			return framePath(stack)
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, pathFrame{wantKey: true})
		case json.Delim('['):
			stack = append(stack, pathFrame{array: true})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone(stack)
		default:
			valueDone(stack)
		}
	}
	return framePath(stack)
}

// valueDone moves the innermost frame past a finished value.
func valueDone(stack []pathFrame) {
	if len(stack) == 0 {
		return
	}
	top := &stack[len(stack)-1]
	if top.array {
		top.index++
	} else {
		top.wantKey = true
	}
}

// framePath joins the keys and indexes of stack.
func framePath(stack []pathFrame) string {
	var b strings.Builder
	for _, f := range stack {
		switch {
		case f.array:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(f.index))
			b.WriteByte(']')
		case !f.wantKey:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		}
	}
	return b.String()
}
