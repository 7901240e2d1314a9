package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/fastgate/gateway/config/yamlcodec"
	"go.yaml.in/yaml/v3"
)

// Rate limits: a route's rate_limit, and the buckets routes share.

// RateLimit is a token bucket: Rate tokens a second, up to Burst saved up;
// a request takes one, and a request that finds none gets 429.
type RateLimit struct {
	// Rate is the sustained rate: requests a second ("100", "0.5"), or per
	// second, minute or hour ("100/s", "600/m", "5000/h"). Required, > 0.
	Rate Rate `yaml:"rate"`
	// Burst is how many requests may come at once after a quiet spell.
	// Default: one second's worth of Rate, at least 1.
	Burst int `yaml:"burst" range:"1,1000000000"`
	// Per says whose bucket a request takes from: "route" (default: one
	// bucket for everyone), "client_ip" (the client address that
	// trusted_proxies yields), "header:NAME" or "query:NAME" (the value of
	// that header or query parameter). Requests without the header or
	// parameter all share one bucket of their own. With access control,
	// "consumer" (the API key's consumer, the basic auth user or the
	// token's subject) or "claim:NAME" (a claim of the route's JWT).
	Per string `yaml:"per"`
	// Scope is "local" (default: each gateway instance counts on its own)
	// or "cluster" (one limit across every instance, counted in Redis).
	Scope string `yaml:"scope"`
	// Bucket names a bucket that several routes share on purpose; every
	// route naming it must give the same settings. Default "": the route's
	// own bucket.
	Bucket string `yaml:"bucket"`
	// OnRedisError is what a cluster limit does while Redis cannot be
	// reached: "local" (default: a local bucket of Rate / Instances),
	// "allow" (admit everything) or "deny" (refuse everything).
	OnRedisError string `yaml:"on_redis_error"`
	// Instances is how many gateway instances share a cluster limit; the
	// local fallback gets Rate / Instances. With registration, the live
	// count of the fleet's registered, passing instances takes precedence
	// as soon as the registry has answered, and follows instances that
	// join and leave; Instances applies until then. Default 1.
	Instances int `yaml:"instances" range:"1,10000"`
	// MaxKeys caps the buckets kept for one limit (per client IP, header
	// or query value); past it the least recently used are dropped.
	// Default 100000.
	MaxKeys int `yaml:"max_keys" range:"1,100000000"`
	// Headers adds the RateLimit-Policy and RateLimit headers to admitted
	// answers too; a refused one always has them. Default false.
	Headers bool `yaml:"headers"`
	// LegacyHeaders also sends RateLimit-Limit, RateLimit-Remaining and
	// RateLimit-Reset. Default false.
	LegacyHeaders bool `yaml:"legacy_headers"`
}

// Rate is a rate in requests a second. In YAML it is a number ("100",
// "0.5") or a count per unit ("100/s", "600/m", "5000/h").
type Rate float64

// Values of RateLimit fields.
const (
	PerRoute    = "route"
	PerClientIP = "client_ip"
	PerHeader   = "header:" // followed by the header name
	PerQuery    = "query:"  // followed by the parameter name

	ScopeLocal   = "local"
	ScopeCluster = "cluster"

	OnRedisErrorLocal = "local"
	OnRedisErrorAllow = "allow"
	OnRedisErrorDeny  = "deny"
)

const defaultMaxKeys = 100_000

func rateLimitDefaults(rl *RateLimit, p string, set map[string]bool) {
	if !set[p+".burst"] {
		rl.Burst = max(1, int(math.Ceil(float64(rl.Rate))))
	}
	if rl.Per == "" {
		rl.Per = PerRoute
	}
	if rl.Scope == "" {
		rl.Scope = ScopeLocal
	}
	if rl.OnRedisError == "" {
		rl.OnRedisError = OnRedisErrorLocal
	}
	if !set[p+".instances"] {
		rl.Instances = 1
	}
	if !set[p+".max_keys"] {
		rl.MaxKeys = defaultMaxKeys
	}
}

// rateLimits checks that the routes sharing a bucket agree on it (each
// route's own limit is checked by routeOwn).
func (v *validator) rateLimits(c *Config) {
	buckets := make(map[string]int)
	for i := range c.Routes {
		rl := c.Routes[i].RateLimit
		if rl == nil {
			continue
		}
		if rl.Bucket == "" {
			continue
		}
		p := "routes[" + strconv.Itoa(i) + "].rate_limit"
		first, seen := buckets[rl.Bucket]
		if !seen {
			buckets[rl.Bucket] = i
			continue
		}
		if *c.Routes[first].RateLimit != *rl {
			v.errorf(p, "shares bucket %q with %s but its settings differ; a shared bucket has one set of settings",
				rl.Bucket, v.routeRef(first, ".rate_limit", p))
		}
	}
}

func (v *validator) rateLimit(rl *RateLimit, p string, haveRedis bool) {
	if rl.Rate <= 0 {
		if _, written := v.pos.Get(p + ".rate"); !written {
			v.errorf(p+".rate", "is required")
		} else {
			v.invalid(p+".rate", float64(rl.Rate), "must be > 0")
		}
	}
	switch {
	case rl.Per == PerRoute || rl.Per == PerClientIP || rl.Per == PerConsumer:
	case strings.HasPrefix(rl.Per, PerClaim):
		if strings.TrimPrefix(rl.Per, PerClaim) == "" {
			v.invalid(p+".per", rl.Per, "wants a claim name after claim:")
		}
	case strings.HasPrefix(rl.Per, PerHeader):
		if name := strings.TrimPrefix(rl.Per, PerHeader); !isToken(name) {
			v.invalid(p+".per", rl.Per, "wants a header name after header:")
		}
	case strings.HasPrefix(rl.Per, PerQuery):
		if strings.TrimPrefix(rl.Per, PerQuery) == "" {
			v.invalid(p+".per", rl.Per, "wants a parameter name after query:")
		}
	default:
		v.invalid(p+".per", rl.Per, "must be route, client_ip, header:NAME, query:NAME, consumer or claim:NAME")
	}
	switch rl.Scope {
	case ScopeLocal:
	case ScopeCluster:
		if !haveRedis {
			v.errorf(p+".scope", "cluster needs the top-level redis setting")
		}
	default:
		v.invalid(p+".scope", rl.Scope, "must be local or cluster")
	}
	if rl.Bucket != "" && !validName(rl.Bucket) {
		v.invalid(p+".bucket", rl.Bucket, "may hold only letters, digits, '_', '.' and '-'")
	}
	switch rl.OnRedisError {
	case OnRedisErrorLocal, OnRedisErrorAllow, OnRedisErrorDeny:
	default:
		v.invalid(p+".on_redis_error", rl.OnRedisError, "must be local, allow or deny")
	}
}

// parseRate reads "100", "0.5", "100/s", "600/m" or "5000/h" as requests
// a second.
func parseRate(s string) (Rate, error) {
	num, unit, hasUnit := strings.Cut(strings.TrimSpace(s), "/")
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf("bad rate %q", s)
	}
	if hasUnit {
		switch strings.TrimSpace(unit) {
		case "s", "sec", "second":
		case "m", "min", "minute":
			f /= 60
		case "h", "hour":
			f /= 3600
		default:
			return 0, fmt.Errorf("bad rate unit in %q", s)
		}
	}
	return Rate(f), nil
}

// formatRate writes r so that parseRate reads it back.
func formatRate(r Rate) string {
	return strconv.FormatFloat(float64(r), 'g', -1, 64)
}

// rateCodec reads and writes a Rate: "100", "0.5", "600/m".
var rateCodec = yamlcodec.Type{
	Of: reflect.TypeFor[Rate](),
	Decode: func(d *yamlcodec.Decoder, n *yaml.Node, v reflect.Value, path string) bool {
		const want = "a rate like 100, 0.5, 600/m or 5000/h"
		s, fromEnv, ok := d.Typed(n, path, want, "!!int", "!!float", "!!str")
		if !ok {
			return true
		}
		r, err := parseRate(s)
		if err != nil {
			d.BadValue(n, path, want, fromEnv)
			return true
		}
		v.SetFloat(float64(r))
		return true
	},
	Encode: func(v reflect.Value) *yaml.Node {
		r := Rate(v.Float())
		if r == Rate(math.Trunc(float64(r))) {
			return yamlcodec.Scalar("!!int", formatRate(r))
		}
		return yamlcodec.Scalar("!!float", formatRate(r))
	},
}
