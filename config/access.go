package config

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A route's access control: CORS, IP lists, and how a caller proves who
// it is (JWT, API key, basic auth, forward auth).

// Access is a route's access control. Its parts run in this order: a CORS
// preflight is answered, the client address is checked against the IP
// lists, then the caller is authenticated by the method set. jwt, api_key
// and basic may be combined: a request is checked by the first of them
// (in that order) whose credential it carries, and one carrying none is
// answered 401. forward_auth stands alone.
type Access struct {
	// CORS answers preflights and adds CORS headers to the route's
	// answers. Default: absent, no CORS headers (a preflight is then an
	// ordinary OPTIONS request for the route).
	CORS *CORS `yaml:"cors"`
	// IPAllow lists the client addresses (CIDRs or single addresses)
	// admitted; any other is answered 403. The client address is the one
	// trusted_proxies yields. Default: all.
	IPAllow []string `yaml:"ip_allow"`
	// IPDeny lists client addresses answered 403; it wins over ip_allow.
	// Default: none.
	IPDeny []string `yaml:"ip_deny"`
	// JWT requires a JSON Web Token of a provider. Default: absent.
	JWT *JWTAccess `yaml:"jwt"`
	// APIKey requires an API key. Default: absent.
	APIKey *APIKeyAccess `yaml:"api_key"`
	// Basic requires HTTP basic auth. Default: absent.
	Basic *BasicAccess `yaml:"basic"`
	// ForwardAuth asks an HTTP endpoint whether the request may pass.
	// Default: absent.
	ForwardAuth *ForwardAuth `yaml:"forward_auth"`
	// ConsumerHeader is the request header that tells the upstream who
	// the caller is: the API key's consumer, the basic auth user or the
	// token's subject. Inbound copies are always removed. "-" sends none.
	// Default "X-Consumer".
	ConsumerHeader string `yaml:"consumer_header"`
	// ForwardCredentials passes the credential (the Authorization header,
	// or the header the token or key was read from) on to the upstream.
	// Default false: it is removed. A credential in a query parameter or a
	// cookie is passed on as it is.
	ForwardCredentials bool `yaml:"forward_credentials"`
}

// JWTAccess requires a token of a provider.
type JWTAccess struct {
	// Provider names one of auth.jwt_providers. Required.
	Provider string `yaml:"provider"`
	// From is where the token is read: "bearer" (the Authorization:
	// Bearer header), "header:NAME", "query:NAME" or "cookie:NAME".
	// Default "bearer".
	From string `yaml:"from"`
	// RequiredClaims must hold, besides the provider's; a token failing
	// one is answered 403. Default: none.
	RequiredClaims []ClaimRule `yaml:"required_claims"`
	// ClaimHeaders sets request headers sent upstream from claims:
	// {X-User-Id: sub}. Inbound copies of these headers are always
	// removed, so a client cannot forge them. Default: none.
	ClaimHeaders map[string]string `yaml:"claim_headers"`

	provider *JWTProvider // the provider named, set by validation
}

// ProviderSettings returns the provider that Provider names. Read-only.
func (j *JWTAccess) ProviderSettings() *JWTProvider { return j.provider }

// MarshalJSON includes the provider's settings, so that a route's
// identity (and what a reload carries over) changes with its provider.
func (j JWTAccess) MarshalJSON() ([]byte, error) {
	type plain JWTAccess
	return json.Marshal(struct {
		plain
		ProviderSettings *JWTProvider `json:"provider_settings,omitempty"`
	}{plain(j), j.provider})
}

// APIKeyAccess requires an API key. Give keys, file, or both.
type APIKeyAccess struct {
	// From is where the key is read: "header:NAME" or "query:NAME".
	// Default "header:X-Api-Key".
	From string `yaml:"from"`
	// Keys are the accepted keys. Default: none.
	Keys []APIKey `yaml:"keys"`
	// File names a file of more keys, one per line as CONSUMER:SHA256HEX
	// (blank lines and # comments skipped), relative to the main
	// configuration file's directory. It is read when the configuration
	// loads and at each reload, and a change of it triggers one.
	// Default "": none.
	File string `yaml:"file"`

	fileKeys []APIKey // File's keys, read by Load
	fileData []byte
}

// APIKey is one key, as its hash.
type APIKey struct {
	// Consumer names who uses the key; it is passed upstream in
	// access.consumer_header. Required.
	Consumer string `yaml:"consumer"`
	// SHA256 is the hex SHA-256 of the key, as `gateway hash-key`
	// prints it. Required.
	SHA256 string `yaml:"sha256" redact:"secret"`
}

// BasicAccess requires HTTP basic auth. Give users, htpasswd_file, or
// both.
type BasicAccess struct {
	// Realm is named in the WWW-Authenticate challenge. Default "gateway".
	Realm string `yaml:"realm"`
	// Users may log in. Default: none.
	Users []BasicUser `yaml:"users"`
	// HtpasswdFile names a file of more users in htpasswd format, bcrypt
	// hashes only (htpasswd -B), relative to the main configuration
	// file's directory. It is read when the configuration loads and at
	// each reload, and a change of it triggers one. Default "": none.
	HtpasswdFile string `yaml:"htpasswd_file"`
	// CacheTTL is how long a verified credential is trusted without
	// running bcrypt again. Default 5m.
	CacheTTL time.Duration `yaml:"cache_ttl" range:"1s,24h"`

	fileUsers []BasicUser // HtpasswdFile's users, read by Load
	fileData  []byte
}

// BasicUser is one user of basic auth.
type BasicUser struct {
	// Name is the user name, without ':'. Required.
	Name string `yaml:"name"`
	// Hash is the bcrypt hash of the password ($2a$, $2b$ or $2y$, as
	// `htpasswd -nB` prints it). Required.
	Hash string `yaml:"hash" redact:"secret"`
}

// ForwardAuth asks an HTTP endpoint about each request, like nginx
// auth_request: a 2xx admits it, any other answer goes back to the client
// (status, client_headers, body). A timeout or failure is answered 503.
type ForwardAuth struct {
	// URL is the deciding endpoint (http or https). Required.
	URL string `yaml:"url" redact:"url"`
	// Timeout bounds a call. Default 2s.
	Timeout time.Duration `yaml:"timeout" range:"1ms,1m"`
	// RequestHeaders lists the request headers sent to the endpoint
	// (Authorization, Cookie, ...); the gateway adds X-Forwarded-Method,
	// -Uri, -Proto, -Host and -For from what it knows itself. Default:
	// none.
	RequestHeaders []string `yaml:"request_headers"`
	// UpstreamHeaders lists the headers of a 2xx answer added to the
	// request sent upstream (inbound copies removed first). Default: none.
	UpstreamHeaders []string `yaml:"upstream_headers"`
	// ClientHeaders lists the headers of a refusal passed back to the
	// client (WWW-Authenticate, Location, Set-Cookie, ...). Default: none.
	ClientHeaders []string `yaml:"client_headers"`
	// MaxAnswerSize caps the endpoint's answer body; a larger one is a
	// failure (503). Default 64KiB.
	MaxAnswerSize ByteSize `yaml:"max_answer_size" range:"1B,16MiB"`
	// SendBody sends the request body to the endpoint. Default false.
	SendBody bool `yaml:"send_body"`
	// MaxRequestBodySize caps the body sent with send_body; a larger one
	// is answered 413. Default 64KiB.
	MaxRequestBodySize ByteSize `yaml:"max_request_body_size" range:"1B,16MiB"`
	// CacheTTL keeps decisions (2xx, 401 and 403 answers) this long, keyed
	// by the values of cache_key_headers. Default 0s: no cache.
	CacheTTL time.Duration `yaml:"cache_ttl" range:"0s,1h"`
	// CacheKeyHeaders names the request headers whose values key the
	// cache. Required with cache_ttl.
	CacheKeyHeaders []string `yaml:"cache_key_headers"`
	// CacheKeyRequest adds the method and path to the cache key, for an
	// endpoint that decides per path. Default false.
	CacheKeyRequest bool `yaml:"cache_key_request"`
}

// CORS is a route's CORS policy.
type CORS struct {
	// AllowedOrigins lists origins: exact ("https://app.example.com"), any
	// subdomain ("https://*.example.com"), or "*" (not with
	// allow_credentials). Required.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedMethods lists the methods a preflight may ask for. Default
	// GET, HEAD and POST.
	AllowedMethods []string `yaml:"allowed_methods"`
	// AllowedHeaders lists the request headers a preflight may ask for;
	// "*" allows any. Default: none beyond the CORS-safelisted ones.
	AllowedHeaders []string `yaml:"allowed_headers"`
	// ExposeHeaders lists response headers scripts may read. Default:
	// none.
	ExposeHeaders []string `yaml:"expose_headers"`
	// AllowCredentials lets browsers send cookies and credentials.
	// Default false.
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge is how long a browser may cache a preflight's answer, in
	// whole seconds. Default 0s: no Access-Control-Max-Age.
	MaxAge time.Duration `yaml:"max_age" range:"0s,24h"`
}

// Token sources of JWTAccess.From and APIKeyAccess.From.
const (
	FromBearer = "bearer"
	FromHeader = "header:" // followed by the header name
	FromQuery  = "query:"  // followed by the parameter name
	FromCookie = "cookie:" // followed by the cookie name
)

// Per values of rate_limit that name the caller.
const (
	PerConsumer = "consumer"
	PerClaim    = "claim:" // followed by the claim's name
)

// NoConsumerHeader as Access.ConsumerHeader sends no consumer header.
const NoConsumerHeader = "-"

const (
	defaultConsumerHeader = "X-Consumer"
	defaultAPIKeyFrom     = "header:X-Api-Key"
	maxAuthFile           = 16 << 20
)

func accessDefaults(a *Access) {
	if a.ConsumerHeader == "" {
		a.ConsumerHeader = defaultConsumerHeader
	}
	if a.JWT != nil && a.JWT.From == "" {
		a.JWT.From = FromBearer
	}
	if a.APIKey != nil && a.APIKey.From == "" {
		a.APIKey.From = defaultAPIKeyFrom
	}
	if b := a.Basic; b != nil {
		zeroDefault(&b.Realm, "gateway")
		zeroDefault(&b.CacheTTL, 5*time.Minute)
	}
	if f := a.ForwardAuth; f != nil {
		zeroDefault(&f.Timeout, 2*time.Second)
		zeroDefault(&f.MaxAnswerSize, 64<<10)
		zeroDefault(&f.MaxRequestBodySize, 64<<10)
	}
}

// access checks a route's access; providers are the declared ones.
func (v *validator) access(r *Route, providers map[string]*JWTProvider, p string) {
	a := r.Access
	if a.CORS != nil {
		v.cors(a.CORS, p+".cors")
		if len(r.Match.Methods) > 0 && !slices.Contains(r.Match.Methods, "OPTIONS") {
			v.errorf(p+".cors", "the route's match.methods must list OPTIONS for the gateway to answer CORS preflights")
		}
	}
	v.cidrs(a.IPAllow, p+".ip_allow")
	v.cidrs(a.IPDeny, p+".ip_deny")
	if a.ConsumerHeader != NoConsumerHeader && !isToken(a.ConsumerHeader) {
		v.invalid(p+".consumer_header", a.ConsumerHeader, "not a valid header name")
	}
	if a.ForwardAuth != nil && (a.JWT != nil || a.APIKey != nil || a.Basic != nil) {
		v.errorf(p+".forward_auth", "cannot be combined with jwt, api_key or basic")
	}
	if j := a.JWT; j != nil {
		jp := p + ".jwt"
		switch prov := providers[j.Provider]; {
		case j.Provider == "":
			v.errorf(jp+".provider", "is required")
		case prov == nil:
			v.invalid(jp+".provider", j.Provider, "no such provider under auth.jwt_providers")
		default:
			j.provider = prov
		}
		v.tokenFrom(j.From, jp+".from", true)
		v.claimRules(j.RequiredClaims, jp+".required_claims")
		for _, name := range sortedKeys(j.ClaimHeaders) {
			hp := jp + ".claim_headers." + name
			if !isToken(name) {
				v.errorf(hp, "%q: not a valid header name", name)
			}
			if j.ClaimHeaders[name] == "" {
				v.errorf(hp, "names no claim")
			}
		}
	}
	if k := a.APIKey; k != nil {
		v.apiKeys(k, p+".api_key")
	}
	if b := a.Basic; b != nil {
		v.basic(b, p+".basic")
	}
	if f := a.ForwardAuth; f != nil {
		fp := p + ".forward_auth"
		switch {
		case f.URL == "":
			v.errorf(fp+".url", "is required")
		case !strings.HasPrefix(f.URL, "http://") && !strings.HasPrefix(f.URL, "https://"):
			v.invalid(fp+".url", f.URL, "must be an http:// or https:// URL")
		}
		v.headerNames(f.RequestHeaders, fp+".request_headers")
		v.headerNames(f.UpstreamHeaders, fp+".upstream_headers")
		v.headerNames(f.ClientHeaders, fp+".client_headers")
		v.headerNames(f.CacheKeyHeaders, fp+".cache_key_headers")
		if f.CacheTTL > 0 && len(f.CacheKeyHeaders) == 0 {
			v.errorf(fp+".cache_key_headers", "is required with cache_ttl")
		}
	}
}

// routeAccess checks the route's access, if any, and the rate limit keys
// that need it.
func (v *validator) routeAccess(r *Route, p string) {
	if r.Access != nil {
		v.access(r, v.providers, p+".access")
	}
	rl := r.RateLimit
	if rl == nil {
		return
	}
	a := r.Access
	if a == nil {
		a = &Access{}
	}
	switch {
	case rl.Per == PerConsumer && a.JWT == nil && a.APIKey == nil && a.Basic == nil:
		v.errorf(p+".rate_limit.per", "consumer needs access.jwt, access.api_key or access.basic")
	case strings.HasPrefix(rl.Per, PerClaim) && a.JWT == nil:
		v.errorf(p+".rate_limit.per", "claim:NAME needs access.jwt")
	}
}

func (v *validator) tokenFrom(from, p string, jwt bool) {
	if jwt && from == FromBearer {
		return
	}
	for _, prefix := range []string{FromHeader, FromQuery, FromCookie} {
		if name, ok := strings.CutPrefix(from, prefix); ok {
			if name == "" || (prefix == FromHeader && !isToken(name)) {
				v.invalid(p, from, "wants a name after "+prefix)
			}
			if prefix == FromCookie && !jwt {
				break
			}
			return
		}
	}
	if jwt {
		v.invalid(p, from, "must be bearer, header:NAME, query:NAME or cookie:NAME")
		return
	}
	v.invalid(p, from, "must be header:NAME or query:NAME")
}

func (v *validator) cidrs(list []string, p string) {
	for i, s := range list {
		if _, err := netip.ParsePrefix(s); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(s); err == nil {
			continue
		}
		v.invalid(p+"["+strconv.Itoa(i)+"]", s, "not a CIDR (10.0.0.0/8) or an IP address")
	}
}

func (v *validator) cors(c *CORS, p string) {
	if len(c.AllowedOrigins) == 0 {
		v.errorf(p+".allowed_origins", "is required")
	}
	for i, o := range c.AllowedOrigins {
		op := p + ".allowed_origins[" + strconv.Itoa(i) + "]"
		switch {
		case o == "*":
			if c.AllowCredentials {
				v.errorf(op, `"*" cannot be used with allow_credentials: browsers refuse it; list the origins`)
			}
		case !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://"):
			v.invalid(op, o, `want an origin like "https://app.example.com", "https://*.example.com" or "*"`)
		case strings.Count(o, "/") != 2:
			v.invalid(op, o, "an origin has no path")
		}
	}
	v.methods(c.AllowedMethods, p+".allowed_methods")
	for i, h := range c.AllowedHeaders {
		if h != "*" && !isToken(h) {
			v.errorf(p+".allowed_headers["+strconv.Itoa(i)+"]", "%q: not a valid header name", h)
		}
	}
	v.headerNames(c.ExposeHeaders, p+".expose_headers")
}
