// Package jwt checks JSON Web Tokens for a route: a Provider verifies a
// token's signature with its key source's keys (auth/jwt/jwks), then its
// issuer, audiences, times and required claims, and returns the subject
// and the claims the caller maps to upstream headers.
//
// Signatures are checked by github.com/golang-jwt/jwt/v5 with only the
// provider's asymmetric algorithms allowed and strict (canonical) base64,
// so one token has one spelling; a key is handed out only for
// an algorithm of its own type and curve, so `none` and HMAC tokens
// (algorithm confusion) are refused twice over. Which key a token gets is
// decided by jwks.Set.Find: by kid, and without a kid only from a
// provider of exactly one key. Keys named by the token itself (jku, x5u,
// jwk, x5c) are never used, and a token with critical extensions (crit)
// is refused, as RFC 7515 requires of a verifier that supports none.
//
// A verified token is kept in a bounded cache, keyed by a seeded hash of
// the whole token and confirmed by comparing the whole token, until its
// exp plus the clock skew (as long as a verification would accept it; one
// minute for a token without exp), and never past the moment its
// key leaves the key set: each entry points at the *jwks.Key that
// verified it and is ignored once that key is Dropped. A repeated valid
// token thus costs a hash, a map lookup and a compare, without
// allocating.
package jwt
