package config

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// JWT providers: the top-level auth section, which routes' access.jwt
// names. A route's access is in access.go; the files access settings
// read (key, htpasswd and PEM files) in authfiles.go.

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
