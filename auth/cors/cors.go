package cors

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Settings describe a route's CORS policy.
type Settings struct {
	// AllowedOrigins lists origins: exact ("https://app.example.com"),
	// any subdomain ("https://*.example.com", which does not match
	// https://example.com itself), or "*" for any origin (not with
	// AllowCredentials). Empty means no origin is allowed.
	AllowedOrigins []string
	// AllowedMethods lists methods a preflight may ask for; empty means
	// GET, HEAD and POST.
	AllowedMethods []string
	// AllowedHeaders lists request headers a preflight may ask for
	// (case-insensitive); "*" allows any. Empty means none beyond the
	// CORS-safelisted ones browsers never ask about.
	AllowedHeaders []string
	// ExposeHeaders lists response headers scripts may read.
	ExposeHeaders []string
	// AllowCredentials lets the browser send cookies and credentials.
	AllowCredentials bool
	// MaxAge is how long a browser may cache a preflight's answer, in
	// whole seconds; zero sends no Access-Control-Max-Age.
	MaxAge time.Duration
}

// Policy is a compiled CORS policy. It is immutable and safe for
// concurrent use.
type Policy struct {
	anyOrigin   bool
	exact       []string // lower case
	wildcards   []wildcard
	methods     []string
	headers     []string // lower case
	anyHeader   bool
	credentials bool

	methodsValue []byte
	headersValue []byte
	exposeValue  []byte
	maxAgeValue  []byte
}

type wildcard struct{ scheme, suffix string } // "https://", ".example.com"

var (
	hOrigin         = []byte(fasthttp.HeaderOrigin)
	hRequestMethod  = []byte(fasthttp.HeaderAccessControlRequestMethod)
	hRequestHeaders = []byte(fasthttp.HeaderAccessControlRequestHeaders)
	hAllowOrigin    = []byte(fasthttp.HeaderAccessControlAllowOrigin)
	hAllowMethods   = []byte(fasthttp.HeaderAccessControlAllowMethods)
	hAllowHeaders   = []byte(fasthttp.HeaderAccessControlAllowHeaders)
	hAllowCreds     = []byte(fasthttp.HeaderAccessControlAllowCredentials)
	hExposeHeaders  = []byte(fasthttp.HeaderAccessControlExposeHeaders)
	hMaxAge         = []byte(fasthttp.HeaderAccessControlMaxAge)
	hVary           = []byte(fasthttp.HeaderVary)
	vOrigin         = []byte("Origin")
	vPreflightVary  = []byte("Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	vTrue           = []byte("true")
)

// New checks s and compiles it.
func New(s Settings) (*Policy, error) {
	p := &Policy{credentials: s.AllowCredentials}
	var errs []error
	for _, o := range s.AllowedOrigins {
		o = strings.ToLower(strings.TrimSpace(o))
		switch {
		case o == "*":
			p.anyOrigin = true
		case o == "null":
			errs = append(errs, errors.New(`cors: origin "null" is sent by sandboxed and file pages: it cannot be allowed`))
		case !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://"):
			errs = append(errs, fmt.Errorf("cors: origin %q must start with http:// or https://", o))
		case strings.Count(o, "/") != 2:
			errs = append(errs, fmt.Errorf("cors: origin %q must be scheme://host[:port] without a path", o))
		case strings.Contains(o, "*"):
			scheme, rest, _ := strings.Cut(o, "://")
			if !strings.HasPrefix(rest, "*.") || strings.Count(rest, "*") != 1 || len(rest) < 3 {
				errs = append(errs, fmt.Errorf("cors: origin %q: a wildcard must be the first label (https://*.example.com)", o))
				continue
			}
			p.wildcards = append(p.wildcards, wildcard{scheme: scheme + "://", suffix: rest[1:]})
		default:
			p.exact = append(p.exact, o)
		}
	}
	if p.anyOrigin && s.AllowCredentials {
		errs = append(errs, errors.New(`cors: origin "*" cannot go with credentials: list the origins`))
	}
	if s.MaxAge < 0 {
		errs = append(errs, errors.New("cors: max age must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	methods := s.AllowedMethods
	if len(methods) == 0 {
		methods = []string{fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodPost}
	}
	for _, m := range methods {
		p.methods = append(p.methods, strings.ToUpper(strings.TrimSpace(m)))
	}
	p.methodsValue = []byte(strings.Join(p.methods, ", "))
	for _, h := range s.AllowedHeaders {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "*" {
			p.anyHeader = true
			continue
		}
		p.headers = append(p.headers, h)
	}
	p.headersValue = []byte(strings.Join(p.headers, ", "))
	p.exposeValue = []byte(strings.Join(s.ExposeHeaders, ", "))
	if secs := int64(s.MaxAge / time.Second); secs > 0 {
		p.maxAgeValue = []byte(strconv.FormatInt(secs, 10))
	}
	return p, nil
}

// IsPreflight reports whether req is a CORS preflight: OPTIONS with both
// Origin and Access-Control-Request-Method.
func IsPreflight(req *fasthttp.RequestHeader) bool {
	return req.IsOptions() && len(req.PeekBytes(hOrigin)) > 0 && len(req.PeekBytes(hRequestMethod)) > 0
}

// Preflight writes the CORS headers answering the preflight req into
// resp and reports whether the origin, method and headers asked for are
// allowed. The caller answers 204 either way (a browser reads a refusal
// from the missing headers); call it only when IsPreflight(req).
func (p *Policy) Preflight(req *fasthttp.RequestHeader, resp *fasthttp.ResponseHeader) bool {
	resp.SetCanonical(hVary, vPreflightVary)
	origin := req.PeekBytes(hOrigin)
	if !p.originAllowed(origin) || !p.methodAllowed(req.PeekBytes(hRequestMethod)) {
		return false
	}
	asked := req.PeekBytes(hRequestHeaders)
	if !p.headersAllowed(asked) {
		return false
	}
	resp.SetCanonical(hAllowOrigin, origin)
	resp.SetCanonical(hAllowMethods, p.methodsValue)
	switch {
	case p.anyHeader && len(asked) > 0:
		resp.SetCanonical(hAllowHeaders, asked)
	case len(p.headersValue) > 0:
		resp.SetCanonical(hAllowHeaders, p.headersValue)
	}
	if p.credentials {
		resp.SetCanonical(hAllowCreds, vTrue)
	}
	if len(p.maxAgeValue) > 0 {
		resp.SetCanonical(hMaxAge, p.maxAgeValue)
	}
	return true
}

// Apply adds the CORS headers of a normal answer to resp: Vary: Origin
// always, and for an allowed origin Access-Control-Allow-Origin (and
// -Credentials and -Expose-Headers as configured). It reports whether the
// origin was allowed; a request without Origin is not a CORS request and
// gets only the Vary.
func (p *Policy) Apply(req *fasthttp.RequestHeader, resp *fasthttp.ResponseHeader) bool {
	resp.AddBytesKV(hVary, vOrigin)
	origin := req.PeekBytes(hOrigin)
	if !p.originAllowed(origin) {
		return false
	}
	resp.SetCanonical(hAllowOrigin, origin)
	if p.credentials {
		resp.SetCanonical(hAllowCreds, vTrue)
	}
	if len(p.exposeValue) > 0 {
		resp.SetCanonical(hExposeHeaders, p.exposeValue)
	}
	return true
}

func (p *Policy) originAllowed(origin []byte) bool {
	if len(origin) == 0 {
		return false
	}
	if p.anyOrigin {
		return true
	}
	for _, o := range p.exact {
		if equalFold(origin, o) {
			return true
		}
	}
	for _, w := range p.wildcards {
		n := len(origin)
		if n <= len(w.scheme)+len(w.suffix) || !hasPrefixFold(origin, w.scheme) || !equalFold(origin[n-len(w.suffix):], w.suffix) {
			continue
		}
		if hostLabels(origin[len(w.scheme) : n-len(w.suffix)]) {
			return true
		}
	}
	return false
}

// hostLabels reports whether b is one or more DNS labels (letters,
// digits, '-', separated by single dots): nothing that could smuggle a
// path, port, user or another host into a wildcard match.
func hostLabels(b []byte) bool {
	if len(b) == 0 || b[0] == '.' || b[len(b)-1] == '.' {
		return false
	}
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		case c == '.' && b[i-1] != '.':
		default:
			return false
		}
	}
	return true
}

func (p *Policy) methodAllowed(m []byte) bool {
	for _, a := range p.methods {
		if string(m) == a {
			return true
		}
	}
	return false
}

// headersAllowed reports whether each name of the comma-separated list
// asked is allowed.
func (p *Policy) headersAllowed(asked []byte) bool {
	if p.anyHeader {
		return true
	}
	for len(asked) > 0 {
		var name []byte
		if i := indexByte(asked, ','); i >= 0 {
			name, asked = asked[:i], asked[i+1:]
		} else {
			name, asked = asked, nil
		}
		name = trimSpace(name)
		if len(name) == 0 {
			continue
		}
		ok := false
		for _, h := range p.headers {
			if equalFold(name, h) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares b with the lower-case ASCII s, ignoring b's case.
func equalFold(b []byte, s string) bool {
	return len(b) == len(s) && hasPrefixFold(b, s)
}

func hasPrefixFold(b []byte, s string) bool {
	if len(b) < len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
