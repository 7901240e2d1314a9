package config

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Access control: the top-level auth section (JWT providers that routes
// share) and a route's access (CORS, IP lists, and how a caller proves
// who it is).

// Auth holds what the access control of several routes shares.
type Auth struct {
	// JWTProviders are the issuers of JSON Web Tokens, by name, that
	// routes' access.jwt.provider names. A provider's key set is fetched
	// when the gateway starts and kept fresh while a route uses it.
	// Default: none.
	JWTProviders map[string]*JWTProvider `yaml:"jwt_providers"`
}

// JWTProvider is one issuer of tokens and the keys that verify them. Give
// jwks_url or public_keys.
type JWTProvider struct {
	// Issuer is the required "iss" claim. Default "": not checked.
	Issuer string `yaml:"issuer"`
	// JWKSURL is where the provider publishes its keys (a JWKS document,
	// http or https). It is fetched at start and every refresh_interval;
	// a token naming an unknown kid fetches it again, at most once per
	// min_refetch_interval. While it cannot be fetched the last good keys
	// keep serving. Default "": public_keys instead.
	JWKSURL string `yaml:"jwks_url" redact:"url"`
	// PublicKeys are static PEM public keys used instead of jwks_url.
	// Default: none.
	PublicKeys []PublicKey `yaml:"public_keys"`
	// Audiences lists accepted "aud" values: a token must name at least
	// one of them (all of them with all_audiences). Default: aud is not
	// checked.
	Audiences []string `yaml:"audiences"`
	// AllAudiences requires every one of audiences instead of any.
	// Default false.
	AllAudiences bool `yaml:"all_audiences"`
	// Algorithms lists the accepted signature algorithms: RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA. Default:
	// all of these. HMAC algorithms and "none" are never accepted.
	Algorithms []string `yaml:"algorithms"`
	// ClockSkew is the leeway on exp, nbf and iat. Default 0s.
	ClockSkew time.Duration `yaml:"clock_skew" range:"0s,10m"`
	// ExpirationOptional accepts tokens without "exp". Default false:
	// such tokens are refused.
	ExpirationOptional bool `yaml:"expiration_optional"`
	// RequiredClaims must all hold for every route using the provider; a
	// token failing one is answered 403. Default: none.
	RequiredClaims []ClaimRule `yaml:"required_claims"`
	// RefreshInterval is the time between fetches of jwks_url. Default
	// 1h.
	RefreshInterval time.Duration `yaml:"refresh_interval" range:"10s,168h"`
	// MinRefetchInterval is the least time between two fetches caused by
	// tokens naming an unknown kid. Default 5s.
	MinRefetchInterval time.Duration `yaml:"min_refetch_interval" range:"100ms,1h"`
	// Timeout bounds one fetch of jwks_url. Default 5s.
	Timeout time.Duration `yaml:"timeout" range:"10ms,1m"`
	// MaxBytes bounds the size of the JWKS document. Default 1MiB.
	MaxBytes ByteSize `yaml:"max_bytes" range:"1KiB,64MiB"`
	// MaxTokenBytes refuses longer tokens before parsing them. Default
	// 8KiB.
	MaxTokenBytes ByteSize `yaml:"max_token_bytes" range:"256B,1MiB"`
	// CacheSize bounds the verified tokens kept per route (a repeated
	// token is then not verified again until it expires). Default 10000.
	CacheSize int `yaml:"cache_size" range:"1,10000000"`
}

// PublicKey is one static public key of a JWT provider. Give pem or file.
type PublicKey struct {
	// KID is the key's id, matched against a token's kid. Default "": the
	// key answers any token when it is the provider's only key.
	KID string `yaml:"kid"`
	// Alg restricts the key to one algorithm. Default "": any that fits
	// the key's type.
	Alg string `yaml:"alg"`
	// PEM is the key in PEM (PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE).
	PEM string `yaml:"pem"`
	// File names a PEM file instead, relative to the main configuration
	// file's directory, read when the configuration loads.
	File string `yaml:"file"`

	fileData []byte // File's content, read by Load
}

// Data returns the key's PEM: File's content when set, else PEM.
func (k *PublicKey) Data() []byte {
	if k.File != "" {
		return k.fileData
	}
	return []byte(k.PEM)
}

// MarshalJSON includes a digest of File's content, so that the hash of a
// configuration changes with the file.
func (k PublicKey) MarshalJSON() ([]byte, error) {
	type plain PublicKey
	return json.Marshal(struct {
		plain
		FileSHA256 string `json:"file_sha256,omitempty"`
	}{plain(k), fileDigest(k.File, k.fileData)})
}

// ClaimRule requires a claim of a token. A dotted name reaches into
// nested objects ("realm_access.roles"). A string claim holds a value
// when it equals it or when one of its space-separated words does (a
// "scope" of "read write" holds "read"); an array holds its elements.
type ClaimRule struct {
	// Name is the claim's name. Required.
	Name string `yaml:"name"`
	// AnyOf lists values of which the claim must hold at least one.
	AnyOf []string `yaml:"any_of"`
	// AllOf lists values the claim must all hold.
	AllOf []string `yaml:"all_of"`
}

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

// AllKeys returns keys and the keys of file. Read-only.
func (a *APIKeyAccess) AllKeys() []APIKey {
	return append(slices.Clip(a.Keys), a.fileKeys...)
}

// MarshalJSON includes a digest of File's content, so that the hash of a
// configuration changes with the file.
func (a APIKeyAccess) MarshalJSON() ([]byte, error) {
	type plain APIKeyAccess
	return json.Marshal(struct {
		plain
		FileSHA256 string `json:"file_sha256,omitempty"`
	}{plain(a), fileDigest(a.File, a.fileData)})
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

// AllUsers returns users and the users of htpasswd_file. Read-only.
func (b *BasicAccess) AllUsers() []BasicUser {
	return append(slices.Clip(b.Users), b.fileUsers...)
}

// MarshalJSON includes a digest of HtpasswdFile's content, so that the
// hash of a configuration changes with the file.
func (b BasicAccess) MarshalJSON() ([]byte, error) {
	type plain BasicAccess
	return json.Marshal(struct {
		plain
		FileSHA256 string `json:"file_sha256,omitempty"`
	}{plain(b), fileDigest(b.HtpasswdFile, b.fileData)})
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

// AuthFiles lists the files that access settings name (API key files,
// htpasswd files, PEM key files), absolute, for a reloader to watch.
func (c *Config) AuthFiles() []string {
	var out []string
	add := func(name string) {
		if name == "" {
			return
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(c.file), name)
		}
		if abs, err := filepath.Abs(name); err == nil && !slices.Contains(out, abs) {
			out = append(out, abs)
		}
	}
	for _, name := range sortedKeys(providerNames(c.Auth.JWTProviders)) {
		for _, k := range c.Auth.JWTProviders[name].PublicKeys {
			add(k.File)
		}
	}
	for i := range c.Routes {
		if a := c.Routes[i].Access; a != nil {
			if a.APIKey != nil {
				add(a.APIKey.File)
			}
			if a.Basic != nil {
				add(a.Basic.HtpasswdFile)
			}
		}
	}
	return out
}

func providerNames(m map[string]*JWTProvider) map[string]string {
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = k
	}
	return out
}

func authDefaults(a *Auth) {
	for _, p := range a.JWTProviders {
		if p == nil {
			continue
		}
		zeroDefault(&p.RefreshInterval, time.Hour)
		zeroDefault(&p.MinRefetchInterval, 5*time.Second)
		zeroDefault(&p.Timeout, 5*time.Second)
		zeroDefault(&p.MaxBytes, 1<<20)
		zeroDefault(&p.MaxTokenBytes, 8<<10)
		zeroDefault(&p.CacheSize, 10000)
	}
}

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

// auth checks the JWT providers.
func (v *validator) auth(a *Auth) {
	for _, name := range sortedKeys(providerNames(a.JWTProviders)) {
		p := "auth.jwt_providers." + name
		prov := a.JWTProviders[name]
		if !validName(name) {
			v.errorf(p, "%q: a provider name may hold only letters, digits, '_', '.' and '-'", name)
		}
		if prov == nil {
			v.errorf(p, "needs jwks_url or public_keys")
			continue
		}
		switch {
		case prov.JWKSURL == "" && len(prov.PublicKeys) == 0:
			v.errorf(p, "needs jwks_url or public_keys")
		case prov.JWKSURL != "" && len(prov.PublicKeys) > 0:
			v.errorf(p, "has both jwks_url and public_keys; keep one")
		case prov.JWKSURL != "":
			if !strings.HasPrefix(prov.JWKSURL, "http://") && !strings.HasPrefix(prov.JWKSURL, "https://") {
				v.invalid(p+".jwks_url", prov.JWKSURL, "must be an http:// or https:// URL")
			}
		}
		for i := range prov.PublicKeys {
			v.publicKey(&prov.PublicKeys[i], p+".public_keys["+strconv.Itoa(i)+"]")
		}
		for i, alg := range prov.Algorithms {
			if !jwtAlgorithm(alg) {
				v.invalid(p+".algorithms["+strconv.Itoa(i)+"]", alg, "not a supported algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA); HMAC and none are never accepted")
			}
		}
		v.claimRules(prov.RequiredClaims, p+".required_claims")
	}
}

func jwtAlgorithm(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
		return true
	}
	return false
}

func (v *validator) publicKey(k *PublicKey, p string) {
	switch {
	case k.PEM == "" && k.File == "":
		v.errorf(p, "needs pem or file")
	case k.PEM != "" && k.File != "":
		v.errorf(p, "has both pem and file; keep one")
	case k.File != "":
		k.fileData = v.readAuthFile(k.File, p+".file")
	}
	if k.Alg != "" && !jwtAlgorithm(k.Alg) {
		v.invalid(p+".alg", k.Alg, "not a supported algorithm")
	}
	if data := k.Data(); len(data) > 0 && !bytes.Contains(data, []byte("-----BEGIN ")) {
		v.errorf(p, "holds no PEM block")
	}
}

func (v *validator) claimRules(rules []ClaimRule, p string) {
	for i, r := range rules {
		rp := p + "[" + strconv.Itoa(i) + "]"
		if r.Name == "" {
			v.errorf(rp+".name", "is required")
		}
		if len(r.AnyOf) == 0 && len(r.AllOf) == 0 {
			v.errorf(rp, "needs any_of or all_of")
		}
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

func (v *validator) apiKeys(k *APIKeyAccess, p string) {
	v.tokenFrom(k.From, p+".from", false)
	if len(k.Keys) == 0 && k.File == "" {
		v.errorf(p, "needs keys or file")
	}
	seen := make(map[string]string)
	check := func(key APIKey, at string) string {
		switch {
		case key.Consumer == "":
			return "consumer is required"
		case !validConsumer(key.Consumer):
			return "consumer may hold only letters, digits, '_', '.', '@' and '-'"
		case !isSHA256Hex(key.SHA256):
			return "sha256 must be 64 hex digits (gateway hash-key prints it)"
		}
		h := strings.ToLower(key.SHA256)
		if first, dup := seen[h]; dup {
			return "the same key hash as " + first
		}
		seen[h] = at
		return ""
	}
	for i, key := range k.Keys {
		kp := p + ".keys[" + strconv.Itoa(i) + "]"
		if msg := check(key, kp); msg != "" {
			v.errorf(kp, "%s", msg)
		}
	}
	if k.File == "" {
		return
	}
	fp := p + ".file"
	data := v.readAuthFile(k.File, fp)
	if data == nil {
		return
	}
	k.fileData = data
	eachLine(data, func(n int, line string) {
		consumer, hash, ok := strings.Cut(line, ":")
		key := APIKey{Consumer: strings.TrimSpace(consumer), SHA256: strings.TrimSpace(hash)}
		msg := check(key, k.File+" line "+strconv.Itoa(n))
		if !ok {
			msg = "want CONSUMER:SHA256HEX"
		}
		if msg != "" {
			v.errorf(fp, "%s line %d: %s", k.File, n, msg)
			return
		}
		k.fileKeys = append(k.fileKeys, key)
	})
}

func (v *validator) basic(b *BasicAccess, p string) {
	if len(b.Users) == 0 && b.HtpasswdFile == "" {
		v.errorf(p, "needs users or htpasswd_file")
	}
	if strings.ContainsAny(b.Realm, "\"\\\r\n") {
		v.errorf(p+".realm", `must not contain '"', '\' or line breaks`)
	}
	seen := make(map[string]bool)
	check := func(u BasicUser) string {
		switch {
		case u.Name == "":
			return "name is required"
		case strings.ContainsAny(u.Name, ":\r\n"):
			return "name must not contain ':' or line breaks"
		case !bcryptHash(u.Hash):
			return "hash must be a bcrypt hash ($2a$, $2b$ or $2y$; htpasswd -nB prints one)"
		case seen[u.Name]:
			return "user " + strconv.Quote(u.Name) + " is listed twice"
		}
		seen[u.Name] = true
		return ""
	}
	for i, u := range b.Users {
		if msg := check(u); msg != "" {
			v.errorf(p+".users["+strconv.Itoa(i)+"]", "%s", msg)
		}
	}
	if b.HtpasswdFile == "" {
		return
	}
	fp := p + ".htpasswd_file"
	data := v.readAuthFile(b.HtpasswdFile, fp)
	if data == nil {
		return
	}
	b.fileData = data
	eachLine(data, func(n int, line string) {
		name, hash, ok := strings.Cut(line, ":")
		u := BasicUser{Name: name, Hash: strings.TrimSpace(hash)}
		msg := check(u)
		if !ok {
			msg = "want NAME:HASH"
		}
		if msg != "" {
			v.errorf(fp, "%s line %d: %s", b.HtpasswdFile, n, msg)
			return
		}
		b.fileUsers = append(b.fileUsers, u)
	})
}

// readAuthFile reads a file an access setting names, relative to the main
// file's directory; nil (and a reported problem) when it cannot.
func (v *validator) readAuthFile(name, p string) []byte {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(v.file), path)
	}
	info, err := os.Stat(path)
	switch {
	case err != nil:
		v.invalid(p, name, "cannot be read: "+errText(err))
		return nil
	case !info.Mode().IsRegular():
		v.invalid(p, name, "is not a regular file")
		return nil
	case info.Size() > maxAuthFile:
		v.invalid(p, name, "is larger than 16MiB")
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		v.invalid(p, name, "cannot be read: "+errText(err))
		return nil
	}
	if data == nil {
		data = []byte{}
	}
	return data
}

// eachLine calls f with each line of data that is neither blank nor a #
// comment, numbered from 1.
func eachLine(data []byte, f func(n int, line string)) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f(n, line)
	}
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// bcryptHash reports whether s has the form of a bcrypt hash:
// $2a$, $2b$ or $2y$, a two-digit cost, and 53 characters of salt and
// hash.
func bcryptHash(s string) bool {
	if len(s) != 60 || s[0] != '$' || s[1] != '2' || s[3] != '$' || s[6] != '$' {
		return false
	}
	if s[2] != 'a' && s[2] != 'b' && s[2] != 'y' {
		return false
	}
	cost, err := strconv.Atoi(s[4:6])
	if err != nil || cost < 4 || cost > 31 {
		return false
	}
	for i := 7; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '/' {
			return false
		}
	}
	return true
}

func validConsumer(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune("_.@-", rune(c)) {
			return false
		}
	}
	return s != ""
}

// fileDigest is the hex SHA-256 of a file's content, "" when no file is
// named.
func fileDigest(name string, data []byte) string {
	if name == "" {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
