package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxRate is the highest rate, in tokens per second, a limiter accepts.
// Redis buckets keep the interval between tokens (1s / rate) in whole
// nanoseconds; at this rate that is off by at most 0.05 %.
const MaxRate = 1e6

// minRate is the lowest rate accepted: one token a year keeps every
// interval and bucket depth far from int64 overflow.
const minRate = 1.0 / (365 * 24 * 3600)

// Decision is the answer for one request.
//
// The gateway serves the request when Allowed is true, and answers 429 with
// a Retry-After of RetryAfter (rounded up to whole seconds) when it is
// false. Limit, Remaining and Reset feed the RateLimit response headers
// (see Headers).
type Decision struct {
	// Allowed is true when the request may pass; it has consumed a token.
	Allowed bool
	// Limit is the bucket size (burst): the most requests a client can
	// send at once after being idle.
	Limit int
	// Remaining is how many more requests would pass right now (whole
	// tokens left after this decision); 0 when denied.
	Remaining int
	// RetryAfter is how long until one request would pass; 0 when allowed.
	RetryAfter time.Duration
	// Reset is how long until the bucket is full again if no request
	// comes; 0 when it already is.
	Reset time.Duration
}

// Limiter decides whether the request identified by key may pass at now.
//
// key is borrowed for the duration of the call: implementations copy it
// if they keep it, so callers may pass a slice into a request buffer.
// Implementations are safe for concurrent use.
type Limiter interface {
	Allow(key []byte, now time.Time) Decision
}

var (
	_ Limiter = (*Local)(nil)
	_ Limiter = (*Redis)(nil)
)

// Errors returned by the constructors (wrapped with details).
var (
	ErrRate  = errors.New("ratelimit: rate must be a number of requests > 0 and <= 1e6 per second")
	ErrBurst = errors.New("ratelimit: burst must be >= 0")
)

// ParseRate parses a rate as written in a config: a positive number of
// requests, optionally followed by "/s", "/m" or "/h" (per second, minute
// or hour; the default is per second), and returns it per second.
// Examples: "100", "100/s", "100/m", "5000/h", "0.5".
func ParseRate(s string) (perSecond float64, err error) {
	num, unit, hasUnit := strings.Cut(strings.TrimSpace(s), "/")
	per := 1.0
	if hasUnit {
		switch strings.TrimSpace(unit) {
		case "s":
			per = 1
		case "m":
			per = 60
		case "h":
			per = 3600
		default:
			return 0, fmt.Errorf("ratelimit: rate %q: unit must be /s, /m or /h", s)
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil {
		return 0, fmt.Errorf("ratelimit: rate %q: not a number", s)
	}
	r := n / per
	if err := checkRate(r); err != nil {
		return 0, fmt.Errorf("%w (rate %q)", err, s)
	}
	return r, nil
}

func checkRate(r float64) error {
	if math.IsNaN(r) || r < minRate || r > MaxRate {
		return ErrRate
	}
	return nil
}

// bucket is the shape of a token bucket in the form GCRA (the generic cell
// rate algorithm) keeps it, which is how Redis stores it: instead of a
// token count, each key stores the theoretical arrival time (TAT), the
// moment its bucket will be full again. A request at t passes when
// max(TAT, t) + interval - t <= depth, and then moves TAT by one interval.
// This admits exactly what a token bucket of size burst refilled at rate
// admits. newBucket also validates and defaults the settings of Local and
// Headers.
type bucket struct {
	interval int64 // nanoseconds per token, >= 1000
	depth    int64 // burst * interval: the time a full bucket lasts
	burst    int
}

func newBucket(rate float64, burst int) (bucket, error) {
	if err := checkRate(rate); err != nil {
		return bucket{}, fmt.Errorf("%w (got %v)", err, rate)
	}
	if burst < 0 {
		return bucket{}, fmt.Errorf("%w (got %d)", ErrBurst, burst)
	}
	if burst == 0 {
		burst = max(1, int(math.Ceil(rate)))
	}
	interval := int64(math.Round(1e9 / rate))
	if float64(burst)*float64(interval) > 1<<60 {
		return bucket{}, fmt.Errorf("%w: burst %d at %v per second spans more than 30 years", ErrBurst, burst, rate)
	}
	return bucket{interval: interval, depth: int64(burst) * interval, burst: burst}, nil
}
