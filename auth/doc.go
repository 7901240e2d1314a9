// Package auth holds what every access-control method of a route shares:
// the reason a request was refused (for metrics and logs, never for the
// client) and the extraction of a credential from a request without
// allocating.
//
// The methods themselves live in sub-packages, one job each, so that a
// route pulls in only what it uses and each stays small:
//
//   - auth/jwt: JSON Web Tokens checked against a provider's keys, with a
//     bounded cache of verified tokens; its part auth/jwt/jwks holds the
//     key set of a provider, from a JWKS URL (fetched at start, refreshed
//     in the background, the last good set kept) or from static PEM keys;
//   - auth/apikey: API keys held as SHA-256 hashes, each naming a consumer;
//   - auth/basic: HTTP basic auth against bcrypt hashes (htpasswd files);
//   - auth/iplist: CIDR allow and deny lists;
//   - auth/cors: CORS preflights and the headers of a normal answer;
//   - auth/forward: the forward-auth client (an HTTP endpoint decides).
//
// No package here imports gateway or config: each takes its own Settings.
// The methods import only the family's root (auth), their own parts
// (auth/jwt imports auth/jwt/jwks) and the family's internal cache
// (auth/internal/ttlcache), never one another.
package auth
