package ratelimit

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Header names written by Headers.Write.
var (
	headerRetryAfter         = []byte("Retry-After")
	headerRateLimitPolicy    = []byte("RateLimit-Policy")
	headerRateLimit          = []byte("RateLimit")
	headerRateLimitLimit     = []byte("RateLimit-Limit")
	headerRateLimitRemaining = []byte("RateLimit-Remaining")
	headerRateLimitReset     = []byte("RateLimit-Reset")
)

// HeaderSettings says which rate-limit headers a route sends.
type HeaderSettings struct {
	// Policy names the quota policy in RateLimit-Policy and RateLimit;
	// "" means "default". Printable ASCII only.
	Policy string
	// Rate (per second) and Burst are the limiter's, used for the
	// policy's quota and window. Burst 0 means what it means for the
	// limiter (one second's worth, at least 1).
	Rate  float64
	Burst int
	// Draft sends RateLimit-Policy and RateLimit as defined by
	// draft-ietf-httpapi-ratelimit-headers-11.
	Draft bool
	// Legacy sends RateLimit-Limit, RateLimit-Remaining and
	// RateLimit-Reset as in the earlier drafts (up to -06), which many
	// clients still read.
	Legacy bool
}

// Headers writes the rate-limit headers of one route's answers. It is
// immutable and safe for concurrent use.
//
// The quota policy of a token bucket of size burst refilled at rate is
// advertised over the window w = burst/rate seconds (the time to refill
// an empty bucket), rounded up to a whole second, with the quota q =
// rate*w rounded down: RateLimit-Policy: "default";q=100;w=60 for
// 100/m with burst 100. The current state is RateLimit:
// "default";r=<Remaining>;t=<seconds>, where t is the time until the
// bucket is full again when the request passed, and the Retry-After
// value when it was denied (the draft asks that Retry-After not end
// before the effective window does).
type Headers struct {
	policy []byte // the whole RateLimit-Policy value
	item   []byte // `"name";r=`
	quota  []byte // q, for RateLimit-Limit
	draft  bool
	legacy bool
}

// NewHeaders returns the Headers for s, or an error for an invalid
// policy name, rate or burst.
func NewHeaders(s HeaderSettings) (*Headers, error) {
	b, err := newBucket(s.Rate, s.Burst)
	if err != nil {
		return nil, err
	}
	name := s.Policy
	if name == "" {
		name = "default"
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7e {
			return nil, fmt.Errorf("ratelimit: policy name %q: only printable ASCII is allowed", name)
		}
	}
	refill := float64(b.depth) / 1e9
	w := max(1, int64(math.Ceil(refill-1e-9)))
	q := int64(math.Floor(float64(w)*1e9/float64(b.interval) + 1e-9))
	h := &Headers{draft: s.Draft, legacy: s.Legacy}
	h.item = appendSFString(nil, name)
	h.policy = append(append([]byte(nil), h.item...), ";q="...)
	h.policy = strconv.AppendInt(h.policy, q, 10)
	h.policy = append(h.policy, ";w="...)
	h.policy = strconv.AppendInt(h.policy, w, 10)
	h.item = append(h.item, ";r="...)
	h.quota = strconv.AppendInt(nil, q, 10)
	return h, nil
}

// Write sets the headers for d by calling set once per header: Retry-After
// when d is a denial, then the draft and legacy headers as configured. set
// must copy name and value before it returns (fasthttp's
// ResponseHeader.SetBytesKV does). scratch is a buffer the values are
// built in, and Write returns it, grown if needed, for reuse. Since it is
// handed to set, scratch escapes: pass a buffer the caller keeps (a pooled
// one), not a fresh one, and Write allocates nothing.
func (h *Headers) Write(set func(name, value []byte), d Decision, scratch []byte) []byte {
	t := d.Reset
	if !d.Allowed {
		t = d.RetryAfter
		scratch = appendSeconds(scratch[:0], t, 1)
		set(headerRetryAfter, scratch)
	}
	if h.draft {
		set(headerRateLimitPolicy, h.policy)
		scratch = append(scratch[:0], h.item...)
		scratch = strconv.AppendInt(scratch, int64(max(d.Remaining, 0)), 10)
		scratch = append(scratch, ";t="...)
		scratch = appendSeconds(scratch, t, 0)
		set(headerRateLimit, scratch)
	}
	if h.legacy {
		set(headerRateLimitLimit, h.quota)
		scratch = strconv.AppendInt(scratch[:0], int64(max(d.Remaining, 0)), 10)
		set(headerRateLimitRemaining, scratch)
		scratch = appendSeconds(scratch[:0], t, 0)
		set(headerRateLimitReset, scratch)
	}
	return scratch
}

// appendSeconds appends d in whole seconds, rounded up, at least least.
func appendSeconds(dst []byte, d time.Duration, least int64) []byte {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.AppendInt(dst, max(s, least), 10)
}

// appendSFString appends s as a Structured Field String (RFC 9651 3.3.3).
func appendSFString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}
