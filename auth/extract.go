package auth

import (
	"bytes"
	"errors"
	"strings"

	"github.com/valyala/fasthttp"
)

// Source names where a credential is read from a request.
type Source uint8

const (
	// FromBearer reads the token of an "Authorization: Bearer TOKEN"
	// header (the scheme matched without regard to case).
	FromBearer Source = iota
	// FromHeader reads the whole value of a named header.
	FromHeader
	// FromQuery reads a named query parameter.
	FromQuery
	// FromCookie reads a named cookie.
	FromCookie
)

// Extractor reads a credential from one place of a request. The zero
// value reads a bearer token. It is safe for concurrent use.
type Extractor struct {
	// Source is where to read; zero means FromBearer.
	Source Source
	// Name is the header, query parameter or cookie name; unused for
	// FromBearer.
	Name string
}

// ErrExtractorName is returned by Validate when a named source has no name.
var ErrExtractorName = errors.New("auth: a token read from a header, query parameter or cookie needs its name")

// Validate reports a setting that cannot work.
func (e Extractor) Validate() error {
	if e.Source > FromCookie {
		return errors.New("auth: unknown token source")
	}
	if e.Source != FromBearer && strings.TrimSpace(e.Name) == "" {
		return ErrExtractorName
	}
	return nil
}

// Extract returns the credential of req, or nil when there is none. The
// slice is borrowed from req: it stays valid only until req is reset or
// changed, and must not be modified. It does not allocate.
func (e Extractor) Extract(req *fasthttp.Request) []byte {
	var v []byte
	switch e.Source {
	case FromBearer:
		v = Bearer(&req.Header)
	case FromHeader:
		v = req.Header.Peek(e.Name)
	case FromQuery:
		v = req.URI().QueryArgs().Peek(e.Name)
	case FromCookie:
		v = req.Header.Cookie(e.Name)
	}
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil
	}
	return v
}

// Bearer returns the token of an "Authorization: Bearer TOKEN" header, or
// nil. The slice is borrowed from h, valid until h is reset or changed.
func Bearer(h *fasthttp.RequestHeader) []byte {
	v := h.Peek(fasthttp.HeaderAuthorization)
	const scheme = "bearer "
	if len(v) <= len(scheme) || !asciiPrefixFold(v, scheme) {
		return nil
	}
	return bytes.TrimSpace(v[len(scheme):])
}

// SchemeValue returns what follows "scheme " in an Authorization value,
// matching the lower-case scheme without regard to case, or nil. The
// result is a sub-slice of authorization, valid as long as it is. It does
// not allocate.
func SchemeValue(authorization []byte, scheme string) []byte {
	if len(authorization) <= len(scheme) || authorization[len(scheme)] != ' ' || !asciiPrefixFold(authorization, scheme) {
		return nil
	}
	return bytes.TrimSpace(authorization[len(scheme)+1:])
}

// asciiPrefixFold reports whether b starts with the lower-case ASCII
// prefix, ignoring case.
func asciiPrefixFold(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}
