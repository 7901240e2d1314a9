package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The metrics of access control: results per route, the JWKS sources of
// JWT providers, and forward-auth calls.

// AuthResult indexes the result label of gateway_auth_requests_total. Its
// values are in the order of the access-control reasons (auth.Reason):
// allowed, missing, invalid, expired, forbidden, error.
type AuthResult uint8

// The results of an access check.
const (
	AuthAllowed AuthResult = iota
	AuthMissing
	AuthInvalid
	AuthExpired
	AuthForbidden
	AuthError
	numAuthResults
)

var authResults = [numAuthResults]string{"allowed", "missing", "invalid", "expired", "forbidden", "error"}

// String returns the label value of r.
func (r AuthResult) String() string {
	if r >= numAuthResults {
		return "error"
	}
	return authResults[r]
}

// authMetrics are the families of access control, registered by New.
type authMetrics struct {
	results         *prometheus.CounterVec
	forwardDuration *prometheus.HistogramVec
	forwardFailures *prometheus.CounterVec
	jwks            atomic.Pointer[func() []JWKSStatus]
}

func newAuthMetrics() *authMetrics {
	return &authMetrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_auth_requests_total",
			Help: "Access checks of routes with access control, by route and result (allowed, missing, invalid, expired, forbidden, error).",
		}, []string{"route", "result"}),
		forwardDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_forward_auth_duration_seconds",
			Help:    "Time a forward-auth decision took (a cached one too), by route.",
			Buckets: DurationBuckets,
		}, []string{"route"}),
		forwardFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_forward_auth_failures_total",
			Help: "Forward-auth calls that failed (timeout, unreachable, too large, malformed answer), answered 503, by route.",
		}, []string{"route"}),
	}
}

func (a *authMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{a.results, a.forwardDuration, a.forwardFailures, &jwksCollector{a: a}}
}

func (a *authMetrics) forget(route string) {
	a.results.DeletePartialMatch(prometheus.Labels{"route": route})
	a.forwardDuration.DeleteLabelValues(route)
	a.forwardFailures.DeleteLabelValues(route)
}

// Auth holds the access-control series of one route. Safe for concurrent
// use; recording does not allocate.
type Auth struct {
	results         [numAuthResults]prometheus.Counter
	forwardDuration prometheus.Observer
	forwardFailures prometheus.Counter
}

// Auth returns the access-control series of the route, every result
// exported from the start. forward adds the forward-auth series.
func (r *Route) Auth(forward bool) *Auth {
	am := r.parent.auth
	a := &Auth{}
	for i := range a.results {
		a.results[i] = am.results.WithLabelValues(r.name, authResults[i])
	}
	if forward {
		a.forwardDuration = am.forwardDuration.WithLabelValues(r.name)
		a.forwardFailures = am.forwardFailures.WithLabelValues(r.name)
	}
	return a
}

// Result counts one access check.
func (a *Auth) Result(r AuthResult) {
	if r >= numAuthResults {
		r = AuthError
	}
	a.results[r].Inc()
}

// Forwarded records a forward-auth decision that took d, failed or not.
// Only for a route made with Auth(true).
func (a *Auth) Forwarded(d time.Duration, failed bool) {
	a.forwardDuration.Observe(d.Seconds())
	if failed {
		a.forwardFailures.Inc()
	}
}

// JWKSStatus is what the metrics export of one JWT provider's key source.
type JWKSStatus struct {
	Provider string
	// Keys is the number of keys in the current set.
	Keys int
	// Successes and Failures count fetches.
	Successes, Failures uint64
	// Staleness is the time since the last good fetch; negative when
	// there was none yet.
	Staleness time.Duration
}

// WatchJWKS makes the JWKS metrics report what f returns, read at every
// scrape.
func (m *Metrics) WatchJWKS(f func() []JWKSStatus) { m.auth.jwks.Store(&f) }

var (
	jwksRefreshesDesc = prometheus.NewDesc("gateway_jwks_refreshes_total",
		"Fetches of a JWT provider's JWKS, by provider and result (success, failure).", []string{"provider", "result"}, nil)
	jwksStalenessDesc = prometheus.NewDesc("gateway_jwks_staleness_seconds",
		"Time since a JWT provider's JWKS was last fetched; -1 before the first good fetch.", []string{"provider"}, nil)
	jwksKeysDesc = prometheus.NewDesc("gateway_jwks_keys",
		"Keys in a JWT provider's current key set.", []string{"provider"}, nil)
)

// jwksCollector exports the JWKS sources' state.
type jwksCollector struct{ a *authMetrics }

func (c *jwksCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jwksRefreshesDesc
	ch <- jwksStalenessDesc
	ch <- jwksKeysDesc
}

func (c *jwksCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.a.jwks.Load()
	if f == nil {
		return
	}
	for _, s := range (*f)() {
		stale := s.Staleness.Seconds()
		if s.Staleness < 0 {
			stale = -1
		}
		ch <- prometheus.MustNewConstMetric(jwksRefreshesDesc, prometheus.CounterValue, float64(s.Successes), s.Provider, "success")
		ch <- prometheus.MustNewConstMetric(jwksRefreshesDesc, prometheus.CounterValue, float64(s.Failures), s.Provider, "failure")
		ch <- prometheus.MustNewConstMetric(jwksStalenessDesc, prometheus.GaugeValue, stale, s.Provider)
		ch <- prometheus.MustNewConstMetric(jwksKeysDesc, prometheus.GaugeValue, float64(s.Keys), s.Provider)
	}
}
