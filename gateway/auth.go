package gateway

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/auth"
	"github.com/fastgate/gateway/auth/apikey"
	"github.com/fastgate/gateway/auth/basic"
	"github.com/fastgate/gateway/auth/jwt"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/metrics"
)

// The answers of access control. None says which part of a credential
// failed: the log line at debug level does. The 401s carry the route's
// challenges and are built with it (challengeAnswer). All keep the
// headers set before they are written, so that the CORS step's headers
// stand.
var (
	errAuthForbidden   = &answer{status: fasthttp.StatusForbidden, msg: "forbidden", source: "auth", keepHeaders: true}
	errAuthUnavailable = &answer{status: fasthttp.StatusServiceUnavailable, msg: "authentication unavailable", source: "auth", keepHeaders: true}
)

const (
	msgAuthRequired = "authentication required"
	msgAuthInvalid  = "invalid credentials"
)

// challengeAnswer is a 401 whose WWW-Authenticate says challenge.
func challengeAnswer(msg string, challenge []byte) *answer {
	return &answer{status: fasthttp.StatusUnauthorized, msg: msg, source: "auth", keepHeaders: true,
		headers: []headerKV{{key: fasthttp.HeaderWWWAuthenticate, value: challenge}}}
}

// callerKey is the user value under which the access step leaves the
// caller it admitted: a *caller (API key, basic auth) or a *jwt.Result.
// Both are shared and immutable, so leaving them costs no allocation.
const callerKey = "gateway.caller"

// caller is a consumer of API keys or a basic auth user, made once per
// name when the route is built.
type caller struct{ name string }

// callerName returns the caller the access step admitted (its consumer,
// user or subject), or "".
func callerName(ctx *fasthttp.RequestCtx) string {
	switch c := ctx.UserValue(callerKey).(type) {
	case *caller:
		return c.name
	case *jwt.Result:
		return c.Subject
	}
	return ""
}

// callerClaim returns claim i of the admitted caller's token, or "".
func callerClaim(ctx *fasthttp.RequestCtx, i int) string {
	if r, ok := ctx.UserValue(callerKey).(*jwt.Result); ok && i < len(r.Claims) {
		return r.Claims[i]
	}
	return ""
}

// bytesOf returns s as bytes without copying them. The result must not be
// modified.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// authStep authenticates the caller with the route's methods (jwt,
// api_key, basic): the first whose credential the request carries
// decides. It admits the request with the caller's identity on it, or
// answers 401 (no or a bad credential, with the methods' challenges), 403
// (a known caller without a required claim) or 503 (the keys could not be
// had).
type authStep struct {
	rt      *route
	metrics *metrics.Auth
	log     *slog.Logger
	jwt     *jwtMethod
	key     *keyMethod
	basic   *basicMethod
	// challenges are the WWW-Authenticate values of the route's methods;
	// missing answers a request with none of them, all listed.
	challenges [][]byte
	missing    *answer
	// consumerHeader is sent upstream with the caller's name; nil: none.
	consumerHeader []byte
	// strip are the credential headers removed before the request goes
	// upstream; nil with forward_credentials.
	strip [][]byte
	// clear are the headers whose inbound copies are always removed: the
	// consumer header and the claim headers.
	clear [][]byte
	keys  *keySource
	d     *deps
	next  handler
}

type jwtMethod struct {
	invalid  *answer
	provider *jwt.Provider
	from     auth.Extractor
	// headers are set upstream from the claims: name and index into
	// Result.Claims.
	headers []claimHeader
}

type claimHeader struct {
	name  []byte
	claim int
}

type keyMethod struct {
	invalid   *answer
	set       *apikey.Set
	from      auth.Extractor
	consumers map[string]*caller
}

type basicMethod struct {
	invalid *answer
	checker *basic.Checker
	users   map[string]*caller
}

// errNoProvider: validation resolves every provider a route names.
var errNoProvider = errors.New("access.jwt: the provider is not declared")

var (
	hdrAuthorization  = []byte(fasthttp.HeaderAuthorization)
	challengeBearer   = []byte(`Bearer realm="gateway"`)
	challengeBadToken = []byte(`Bearer realm="gateway", error="invalid_token"`)
	challengeAPIKey   = []byte(`APIKey realm="gateway"`)
)

func buildAuthStep(b *routeBuild) (_ step, err error) {
	a := b.rc.Access
	if a == nil || (a.JWT == nil && a.APIKey == nil && a.Basic == nil) {
		return nil, nil
	}
	s := &authStep{rt: b.rt, metrics: b.rt.metrics.Auth(false), log: b.d.log.With("route", b.rc.Name), d: b.d}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if a.ConsumerHeader != config.NoConsumerHeader {
		s.consumerHeader = []byte(a.ConsumerHeader)
		s.clear = append(s.clear, s.consumerHeader)
	}
	if j := a.JWT; j != nil {
		if err := s.buildJWT(b, j); err != nil {
			return nil, err
		}
	}
	if k := a.APIKey; k != nil {
		m := &keyMethod{from: extractor(k.From), consumers: map[string]*caller{}}
		var keys []apikey.Key
		for _, key := range k.AllKeys() {
			keys = append(keys, apikey.Key{Consumer: key.Consumer, SHA256: key.SHA256})
			if m.consumers[key.Consumer] == nil {
				m.consumers[key.Consumer] = &caller{name: key.Consumer}
			}
		}
		if m.set, err = apikey.New(keys); err != nil {
			return nil, err
		}
		m.invalid = challengeAnswer(msgAuthInvalid, challengeAPIKey)
		s.key = m
		s.challenges = append(s.challenges, challengeAPIKey)
		if m.from.Source == auth.FromHeader {
			s.stripHeader(a, []byte(m.from.Name))
		}
	}
	if bc := a.Basic; bc != nil {
		m := &basicMethod{users: map[string]*caller{}}
		var users []basic.User
		for _, u := range bc.AllUsers() {
			users = append(users, basic.User{Name: u.Name, Hash: u.Hash})
			m.users[u.Name] = &caller{name: u.Name}
		}
		if m.checker, err = basic.New(basic.Settings{Users: users, CacheTTL: bc.CacheTTL}); err != nil {
			return nil, err
		}
		challenge := []byte(`Basic realm="` + bc.Realm + `", charset="UTF-8"`)
		m.invalid = challengeAnswer(msgAuthInvalid, challenge)
		s.basic = m
		s.challenges = append(s.challenges, challenge)
		s.stripHeader(a, hdrAuthorization)
	}
	// RFC 9110: one field may list several challenges, comma-separated.
	s.missing = challengeAnswer(msgAuthRequired, bytes.Join(s.challenges, []byte(", ")))
	return s, nil
}

func (s *authStep) buildJWT(b *routeBuild, j *config.JWTAccess) error {
	p := j.ProviderSettings()
	if p == nil {
		return errNoProvider
	}
	keys, err := b.d.acquireKeys(j.Provider, p)
	if err != nil {
		return err
	}
	s.keys = keys
	set := jwt.Settings{
		Issuer:             p.Issuer,
		Audiences:          p.Audiences,
		AllAudiences:       p.AllAudiences,
		Algorithms:         p.Algorithms,
		ClockSkew:          p.ClockSkew,
		ExpirationOptional: p.ExpirationOptional,
		CacheSize:          p.CacheSize,
		MaxTokenBytes:      int(p.MaxTokenBytes),
	}
	for _, r := range slices.Concat(p.RequiredClaims, j.RequiredClaims) {
		set.RequiredClaims = append(set.RequiredClaims, jwt.ClaimRule{Name: r.Name, AnyOf: r.AnyOf, AllOf: r.AllOf})
	}
	m := &jwtMethod{from: extractor(j.From)}
	for _, name := range slices.Sorted(maps.Keys(j.ClaimHeaders)) {
		claim := j.ClaimHeaders[name]
		i := slices.Index(set.Claims, claim)
		if i < 0 {
			i = len(set.Claims)
			set.Claims = append(set.Claims, claim)
		}
		m.headers = append(m.headers, claimHeader{name: []byte(name), claim: i})
		s.clear = append(s.clear, []byte(name))
	}
	// The rate limit's claim, left for its step below.
	if rl := b.rc.RateLimit; rl != nil {
		if claim, ok := strings.CutPrefix(rl.Per, config.PerClaim); ok {
			i := slices.Index(set.Claims, claim)
			if i < 0 {
				i = len(set.Claims)
				set.Claims = append(set.Claims, claim)
			}
			b.rateClaim = i
		}
	}
	if m.provider, err = jwt.New(set, keys.src); err != nil {
		return err
	}
	m.invalid = challengeAnswer(msgAuthInvalid, challengeBadToken)
	s.jwt = m
	s.challenges = append(s.challenges, challengeBearer)
	switch m.from.Source {
	case auth.FromBearer:
		s.stripHeader(b.rc.Access, hdrAuthorization)
	case auth.FromHeader:
		s.stripHeader(b.rc.Access, []byte(m.from.Name))
	}
	return nil
}

// stripHeader removes the credential header name before the request goes
// upstream, unless the route forwards credentials.
func (s *authStep) stripHeader(a *config.Access, name []byte) {
	if a.ForwardCredentials {
		return
	}
	for _, h := range s.strip {
		if string(h) == string(name) {
			return
		}
	}
	s.strip = append(s.strip, name)
}

func (s *authStep) wrap(next handler) handler {
	s.next = next
	return s.serve
}

// close gives back the route's use of its provider's keys.
func (s *authStep) close() {
	if s.keys != nil {
		s.d.releaseKeys(s.keys)
		s.keys = nil
	}
}

func (s *authStep) serve(ctx *fasthttp.RequestCtx) error {
	h := &ctx.Request.Header
	for _, name := range s.clear {
		h.DelBytes(name)
	}
	var (
		reason  = auth.Missing
		who     any
		name    string
		err     error
		invalid *answer // the refusal of the method that decided
	)
	switch {
	case s.jwt != nil && len(s.jwt.from.Extract(&ctx.Request)) > 0:
		var r *jwt.Result
		r, reason, err = s.jwt.provider.Verify(s.jwt.from.Extract(&ctx.Request), ctx.Time())
		if reason == auth.Allowed {
			who, name = r, r.Subject
			for _, ch := range s.jwt.headers {
				if v := r.Claims[ch.claim]; v != "" {
					h.SetCanonical(ch.name, bytesOf(v))
				}
			}
		}
		invalid = s.jwt.invalid
	case s.key != nil && len(s.key.from.Extract(&ctx.Request)) > 0:
		consumer, ok := s.key.set.Lookup(s.key.from.Extract(&ctx.Request))
		reason = auth.Invalid
		if ok {
			reason, who, name = auth.Allowed, s.key.consumers[consumer], consumer
		}
		invalid = s.key.invalid
	case s.basic != nil && auth.SchemeValue(h.PeekBytes(hdrAuthorization), "basic") != nil:
		var user string
		user, reason = s.basic.checker.CheckAuthorization(h.PeekBytes(hdrAuthorization), ctx.Time())
		if reason == auth.Allowed {
			who, name = s.basic.users[user], user
		}
		invalid = s.basic.invalid
	}
	s.metrics.Result(metrics.AuthResult(reason))
	if reason != auth.Allowed {
		return s.refuse(reason, invalid, err)
	}
	for _, name := range s.strip {
		h.DelBytes(name)
	}
	if s.consumerHeader != nil && name != "" {
		h.SetCanonical(s.consumerHeader, bytesOf(name))
	}
	ctx.SetUserValue(callerKey, who)
	return s.next(ctx)
}

// refuse is the answer to a request that was not admitted, for reason;
// invalid is the answer of the method that found its credential bad.
//
//go:noinline
func (s *authStep) refuse(reason auth.Reason, invalid *answer, err error) error {
	if err != nil && s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("auth: request refused", "result", reason.String(), "error", err)
	}
	switch reason {
	case auth.Forbidden:
		return errAuthForbidden
	case auth.Unavailable:
		return errAuthUnavailable
	case auth.Missing:
		return s.missing
	}
	return invalid
}

// extractor reads a from setting: "bearer", "header:NAME", "query:NAME"
// or "cookie:NAME".
func extractor(from string) auth.Extractor {
	for _, src := range []struct {
		prefix string
		source auth.Source
	}{{config.FromHeader, auth.FromHeader}, {config.FromQuery, auth.FromQuery}, {config.FromCookie, auth.FromCookie}} {
		if name, ok := strings.CutPrefix(from, src.prefix); ok {
			return auth.Extractor{Source: src.source, Name: name}
		}
	}
	return auth.Extractor{Source: auth.FromBearer}
}
