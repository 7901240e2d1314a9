package grpcbridge

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Headers gives the request's HTTP headers by name;
// fasthttp.RequestHeader satisfies it. Peek returns nil for a header
// that is not there; the slice is read before Invoke returns and never
// kept.
type Headers interface {
	Peek(key string) []byte
}

// Param is one named value: a path parameter of a request, or a metadata
// entry of a Response.
type Param struct {
	Name  string
	Value []byte
}

// Request is an HTTP request to turn into a request message. Its slices
// are read during Invoke or Stream only and never kept, so they may be
// borrowed from the HTTP server's request.
type Request struct {
	// Body is the JSON of the request message (or of the field that
	// EndpointSettings.BodyField names). Empty, or only white space, is
	// an empty message.
	Body []byte
	// Params are the path template's parameters, e.g. {id} -> "42". Each
	// sets the field of its name; a dotted name ("user.id") reaches into
	// nested messages; a repeated field gets the value appended. Params
	// are applied last, so they win over the body and the query.
	Params []Param
	// Query is the raw query string, without "?". Each key=value sets the
	// field the key names, like Params; a repeated field takes repeated
	// keys (ids=1&ids=2). Applied after the body.
	Query []byte
	// Header gives the HTTP headers that become gRPC metadata. nil means
	// none.
	Header Headers
}

// RequestError is returned by Invoke and Stream when the request does not
// make a request message: malformed JSON, an unknown field (unless
// allowed), a value of the wrong type, a query or path value that does
// not parse. Nothing was sent to the server. The gateway answers it with
// 400 (Response is filled so), and it must not count as a backend
// failure.
type RequestError struct {
	// Field is the field's path as the request wrote it ("user.address.zip",
	// "tags[2]"), or "" when the error is not about one field (JSON
	// that does not parse before any field).
	Field string
	// Reason says what is wrong, e.g. `unknown field "nmae"`.
	Reason string
}

// Error returns "grpcbridge: bad request: field F: reason".
func (e *RequestError) Error() string {
	return "grpcbridge: bad request: " + e.message()
}

// message is the error without the package prefix, for the error body.
func (e *RequestError) message() string {
	if e.Field == "" {
		return e.Reason
	}
	return "field " + e.Field + ": " + e.Reason
}

// build fills msg from r. body is the JSON to unmarshal (already wrapped
// for a BodyField).
func (e *Endpoint) build(msg protoreflect.Message, r *Request, scratch *[]byte) *RequestError {
	if body := r.Body; len(bytes.TrimSpace(body)) > 0 {
		if e.bodyField == "" {
			if err := e.unmarshal.Unmarshal(body, msg.Interface()); err != nil {
				return jsonError(body, err, true)
			}
		} else if re := e.unmarshalField(msg, body, scratch); re != nil {
			return re
		}
	}
	if len(r.Query) > 0 {
		if re := e.fillQuery(msg, r.Query, scratch); re != nil {
			return re
		}
	}
	for i := range r.Params {
		p := &r.Params[i]
		if re := setPath(e, msg, p.Name, p.Value, false); re != nil {
			return re
		}
	}
	return nil
}

// unmarshalField fills the BodyField from body: the body is wrapped as
// {"field": body} and the wrap unmarshalled into the message, so errors
// name the field's path from the message.
func (e *Endpoint) unmarshalField(msg protoreflect.Message, body []byte, scratch *[]byte) *RequestError {
	b := append((*scratch)[:0], e.bodyPrefix...)
	b = append(b, body...)
	b = append(b, '}')
	*scratch = b
	if err := e.unmarshal.Unmarshal(b, msg.Interface()); err != nil {
		return jsonError(b, err, false)
	}
	// A body such as `{}, "other": 1` makes a valid wrap that sets a
	// field beside the body field.
	if !json.Valid(body) {
		return &RequestError{Field: e.bodyField, Reason: "the body is not one JSON value"}
	}
	return nil
}

// fillQuery sets the fields of a raw query string.
func (e *Endpoint) fillQuery(msg protoreflect.Message, q []byte, scratch *[]byte) *RequestError {
	for n := 0; len(q) > 0 && n < maxQueryPairs; n++ {
		var pair []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, nil
		}
		if len(pair) == 0 {
			continue
		}
		k, v, _ := bytes.Cut(pair, []byte{'='})
		buf := (*scratch)[:0]
		buf, ok := queryUnescape(buf, k)
		if !ok {
			return &RequestError{Field: string(k), Reason: "query key is not valid percent-encoding"}
		}
		klen := len(buf)
		buf, ok = queryUnescape(buf, v)
		*scratch = buf
		if !ok {
			return &RequestError{Field: string(buf[:klen]), Reason: "query value is not valid percent-encoding"}
		}
		if re := setPath(e, msg, buf[:klen], buf[klen:], e.allowUnknown); re != nil {
			return re
		}
	}
	if len(q) > 0 {
		return &RequestError{Reason: "more than " + strconv.Itoa(maxQueryPairs) + " query parameters"}
	}
	return nil
}

// maxQueryPairs bounds the key=value pairs of one query string.
const maxQueryPairs = 1000

// queryUnescape appends the decoding of s (percent escapes, "+" for a
// space) to dst; ok is false for a bad escape.
func queryUnescape(dst, s []byte) (_ []byte, ok bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			dst = append(dst, ' ')
		case '%':
			if i+2 >= len(s) {
				return dst, false
			}
			h, l := unhex(s[i+1]), unhex(s[i+2])
			if h < 0 || l < 0 {
				return dst, false
			}
			dst = append(dst, byte(h<<4|l))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst, true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// jsonError makes the RequestError of a protojson error on body.
// showPos keeps the position in the reason of a syntax error (not when
// body is a wrap of the request's).
func jsonError(body []byte, err error, showPos bool) *RequestError {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "proto:")
	msg = strings.TrimLeft(msg, " \u00a0")
	field := ""
	if off, ok := errorOffset(body, msg); ok {
		field = jsonPathAt(body, off)
		// The position is in the message already as the field.
		syntax := strings.HasPrefix(msg, "syntax error")
		if i := strings.Index(msg, "(line "); i >= 0 && (field != "" && !syntax || !showPos) {
			if j := strings.Index(msg[i:], ")"); j >= 0 {
				msg = strings.TrimRight(msg[:i], " ") + msg[i+j+1:]
				msg = strings.TrimPrefix(msg, ": ")
			}
		}
	}
	if msg == "unexpected EOF" {
		msg = "malformed JSON: the body ends too soon"
	}
	return &RequestError{Field: field, Reason: strings.TrimSpace(msg)}
}
