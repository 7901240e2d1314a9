package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// DurationBuckets are the histogram buckets of request durations, in
// seconds: from half a millisecond, where a proxied loopback request sits,
// to ten seconds.
var DurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics holds every collector of one gateway process. It outlives config
// reloads. Safe for concurrent use.
type Metrics struct {
	bridges        *bridgeMetrics
	tunnels        *tunnelMetrics
	compression    *compressionMetrics
	auth           *authMetrics
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	inFlight       *prometheus.GaugeVec
	upstreamErrors *prometheus.CounterVec
	clientErrors   *prometheus.CounterVec
	rateLimited    *prometheus.CounterVec
	redisOutages   *prometheus.CounterVec
	breakerState   *prometheus.GaugeVec
	targetBreakers *prometheus.GaugeVec
	breakerChanges *prometheus.CounterVec
	fallbacks      *prometheus.CounterVec
	reloads        *prometheus.CounterVec
	lastReload     prometheus.Gauge
	configInfo     *prometheus.GaugeVec
	acceptErrors   *prometheus.CounterVec
	tls            *tlsMetrics

	mu     sync.Mutex
	routes map[string]*Route

	discovery atomic.Pointer[func() []ServiceStatus]
	cache     atomic.Pointer[func() CacheStats]
	source    atomic.Pointer[func() ConfigSourceStatus]
	// registration: WatchRegistration
	registration atomic.Pointer[func() RegistrationStatus]
}

// CacheStats is what the metrics export of the fallback cache.
type CacheStats struct {
	Hits, Misses, Evictions uint64
	Bytes, Entries          int64
}

// WatchCache makes the cache metrics report what f returns, read at every
// scrape.
func (m *Metrics) WatchCache(f func() CacheStats) { m.cache.Store(&f) }

var (
	cacheHitsDesc      = prometheus.NewDesc("gateway_cache_hits_total", "Fallback cache lookups that found a copy.", nil, nil)
	cacheMissesDesc    = prometheus.NewDesc("gateway_cache_misses_total", "Fallback cache lookups that found none.", nil, nil)
	cacheEvictionsDesc = prometheus.NewDesc("gateway_cache_evictions_total", "Copies dropped to keep the fallback cache within its bounds.", nil, nil)
	cacheBytesDesc     = prometheus.NewDesc("gateway_cache_bytes", "Bytes the fallback cache holds.", nil, nil)
	cacheEntriesDesc   = prometheus.NewDesc("gateway_cache_entries", "Copies the fallback cache holds.", nil, nil)
)

// cacheCollector exports the fallback cache's counters.
type cacheCollector struct{ m *Metrics }

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cacheHitsDesc, cacheMissesDesc, cacheEvictionsDesc, cacheBytesDesc, cacheEntriesDesc} {
		ch <- d
	}
}

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.cache.Load()
	if f == nil {
		return
	}
	st := (*f)()
	ch <- prometheus.MustNewConstMetric(cacheHitsDesc, prometheus.CounterValue, float64(st.Hits))
	ch <- prometheus.MustNewConstMetric(cacheMissesDesc, prometheus.CounterValue, float64(st.Misses))
	ch <- prometheus.MustNewConstMetric(cacheEvictionsDesc, prometheus.CounterValue, float64(st.Evictions))
	ch <- prometheus.MustNewConstMetric(cacheBytesDesc, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, float64(st.Entries))
}

// ServiceStatus is what the metrics export of one followed service.
type ServiceStatus struct {
	Source, Service string
	Instances       int
	Updates, Errors uint64
	Staleness       time.Duration
}

// WatchDiscovery makes the discovery metrics report what f returns, read
// at every scrape.
func (m *Metrics) WatchDiscovery(f func() []ServiceStatus) { m.discovery.Store(&f) }

var (
	discoveryInstancesDesc = prometheus.NewDesc("gateway_discovery_instances",
		"Instances a registry lists for a service, as the gateway uses them.", []string{"service", "source"}, nil)
	discoveryStalenessDesc = prometheus.NewDesc("gateway_discovery_staleness_seconds",
		"Time since the registry last answered about a service.", []string{"service", "source"}, nil)
	discoveryUpdatesDesc = prometheus.NewDesc("gateway_discovery_updates_total",
		"Changes of a service's instance list applied.", []string{"service", "source"}, nil)
	discoveryErrorsDesc = prometheus.NewDesc("gateway_discovery_errors_total",
		"Failed attempts to read a service from its registry.", []string{"service", "source"}, nil)
)

// discoveryCollector exports the followed services' state.
type discoveryCollector struct{ m *Metrics }

func (c *discoveryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- discoveryInstancesDesc
	ch <- discoveryStalenessDesc
	ch <- discoveryUpdatesDesc
	ch <- discoveryErrorsDesc
}

func (c *discoveryCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.discovery.Load()
	if f == nil {
		return
	}
	for _, s := range (*f)() {
		ch <- prometheus.MustNewConstMetric(discoveryInstancesDesc, prometheus.GaugeValue, float64(s.Instances), s.Service, s.Source)
		ch <- prometheus.MustNewConstMetric(discoveryStalenessDesc, prometheus.GaugeValue, s.Staleness.Seconds(), s.Service, s.Source)
		ch <- prometheus.MustNewConstMetric(discoveryUpdatesDesc, prometheus.CounterValue, float64(s.Updates), s.Service, s.Source)
		ch <- prometheus.MustNewConstMetric(discoveryErrorsDesc, prometheus.CounterValue, float64(s.Errors), s.Service, s.Source)
	}
}

// Build says which build runs, for gateway_build_info.
type Build struct {
	// Version is the release, e.g. "v1.4.0". Empty means "dev".
	Version string
	// Commit is the source revision. Empty means "unknown".
	Commit string
}

// New creates the collectors and registers them, with the build info and
// the Go and process collectors, on reg.
func New(reg prometheus.Registerer, build Build) *Metrics {
	if build.Version == "" {
		build.Version = "dev"
	}
	if build.Commit == "" {
		build.Commit = "unknown"
	}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_requests_total",
			Help: "Requests answered, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_request_duration_seconds",
			Help:    "Time from the request head being read to the answer being handed to the connection, by route.",
			Buckets: DurationBuckets,
		}, []string{"route"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gateway_requests_in_flight",
			Help: "Requests being handled now, by route.",
		}, []string{"route"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_errors_total",
			Help: "Failed upstream attempts, by route and kind (connect, timeout, reset, protocol, pool_exhausted, no_instance, too_large, other).",
		}, []string{"route", "kind"}),
		clientErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_client_errors_total",
			Help: "Requests that failed through the client's fault while being forwarded, by route and kind (malformed, timeout, disconnect); never counted against the upstream.",
		}, []string{"route", "kind"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_ratelimit_rejected_total",
			Help: "Requests answered 429 by a route's rate limit.",
		}, []string{"route"}),
		redisOutages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_ratelimit_redis_outages_total",
			Help: "Times a route's cluster rate limit lost Redis and fell back to its on_redis_error mode.",
		}, []string{"route"}),
		breakerChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_breaker_transitions_total",
			Help: "Changes of a route's circuit breaker state, by the state entered (closed, half_open, open).",
		}, []string{"route", "to"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gateway_breaker_state",
			Help: "State of a route's circuit breaker: 0 closed, 1 half-open, 2 open.",
		}, []string{"route"}),
		targetBreakers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gateway_breaker_target_state",
			Help: "State of the circuit breaker of one upstream target of a route with per: target: 0 closed, 1 half-open, 2 open.",
		}, []string{"route", "target"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_fallback_served_total",
			Help: "Fallback answers served instead of an upstream's, by route and source (cache, upstream, static, error).",
		}, []string{"route", "source"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_config_reloads_total",
			Help: "Configurations loaded, by result (success, failure).",
		}, []string{"result"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gateway_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last configuration that was applied.",
		}),
		configInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gateway_config_info",
			Help: "The configuration serving now: 1 for its hash.",
		}, []string{"hash"}),
		acceptErrors: newAcceptErrors("emfile", "enfile", "enomem", "other"),
		routes:       make(map[string]*Route),
		bridges:      newBridgeMetrics(),
		tls:          newTLSMetrics(),
		tunnels:      newTunnelMetrics(),
		compression:  newCompressionMetrics(),
		auth:         newAuthMetrics(),
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gateway_build_info",
		Help: "Always 1; the version and commit labels say which build runs.",
	}, []string{"version", "commit"})
	buildInfo.WithLabelValues(build.Version, build.Commit).Set(1)
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.upstreamErrors, m.clientErrors,
		m.rateLimited, m.redisOutages, m.breakerState, m.targetBreakers, m.breakerChanges, m.fallbacks, &fallbackCollector{m: m}, &discoveryCollector{m: m}, &cacheCollector{m: m}, &configSourceCollector{m: m},
		m.reloads, m.lastReload, m.configInfo, m.acceptErrors, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(m.bridges.collectors()...)
	reg.MustRegister(m.tls.collectors()...)
	reg.MustRegister(m.tunnels.collectors()...)
	reg.MustRegister(m.compression.collectors()...)
	reg.MustRegister(m.auth.collectors()...)
	reg.MustRegister(&registrationCollector{m: m})
	// Both results exist from the start so that rate() and alerts see them.
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	return m
}

// ConfigApplied records a configuration that was loaded and now serves.
func (m *Metrics) ConfigApplied(unixSeconds float64, hash string) {
	m.reloads.WithLabelValues("success").Inc()
	m.lastReload.Set(unixSeconds)
	m.configInfo.Reset()
	m.configInfo.WithLabelValues(hash).Set(1)
}

// ConfigRejected records a configuration that failed to load.
func (m *Metrics) ConfigRejected() {
	m.reloads.WithLabelValues("failure").Inc()
}

// Route returns the series of the named route, creating them on first use.
// Routes that keep their name across reloads keep their series.
func (m *Metrics) Route(name string) *Route {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.routes[name]; ok {
		return r
	}
	r := &Route{
		name:     name,
		parent:   m,
		Duration: m.duration.WithLabelValues(name),
		InFlight: m.inFlight.WithLabelValues(name),
	}
	if name != "" { // requests no route took are never rate limited
		r.rateLimited = m.rateLimited.WithLabelValues(name)
	}
	for k := range upstreamErrorKinds {
		if name == "" { // requests no route took never reach an upstream
			r.upstreamErrors[k] = noopCounter{}
			continue
		}
		r.upstreamErrors[k] = m.upstreamErrors.WithLabelValues(name, upstreamErrorKinds[k])
	}
	for k := range clientErrorKinds {
		if name == "" { // requests no route took are never forwarded
			r.clientErrors[k] = noopCounter{}
			continue
		}
		r.clientErrors[k] = m.clientErrors.WithLabelValues(name, clientErrorKinds[k])
	}
	empty := map[uint32]prometheus.Counter{}
	r.codes.Store(&empty)
	m.routes[name] = r
	return r
}

// Forget deletes the series of routes that no longer exist, so that a
// removed route stops being exported.
func (m *Metrics) Forget(keep func(name string) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.routes {
		if keep(name) {
			continue
		}
		delete(m.routes, name)
		m.requests.DeletePartialMatch(prometheus.Labels{"route": name})
		m.upstreamErrors.DeletePartialMatch(prometheus.Labels{"route": name})
		m.clientErrors.DeletePartialMatch(prometheus.Labels{"route": name})
		m.duration.DeleteLabelValues(name)
		m.inFlight.DeleteLabelValues(name)
		m.rateLimited.DeleteLabelValues(name)
		m.redisOutages.DeleteLabelValues(name)
		m.breakerState.DeleteLabelValues(name)
		m.targetBreakers.DeletePartialMatch(prometheus.Labels{"route": name})
		m.breakerChanges.DeletePartialMatch(prometheus.Labels{"route": name})
		m.fallbacks.DeletePartialMatch(prometheus.Labels{"route": name})
		m.bridges.forget(name)
		m.tunnels.forget(name)
		m.compression.forget(name)
		m.auth.forget(name)
	}
}

// UpstreamErrorKind indexes the kind label of gateway_upstream_errors_total.
type UpstreamErrorKind uint8

// The kinds of upstream errors.
const (
	KindConnect UpstreamErrorKind = iota
	KindTimeout
	KindReset
	KindProtocol
	KindPoolExhausted
	KindNoInstance
	KindTooLarge
	KindOther
	numKinds
)

var upstreamErrorKinds = [numKinds]string{"connect", "timeout", "reset", "protocol", "pool_exhausted", "no_instance", "too_large", "other"}

// String returns the label value of k.
func (k UpstreamErrorKind) String() string {
	if k >= numKinds {
		return "other"
	}
	return upstreamErrorKinds[k]
}

// ClientErrorKind indexes the kind label of gateway_client_errors_total.
type ClientErrorKind uint8

// The kinds of client errors.
const (
	ClientMalformed  ClientErrorKind = iota // a request body framed badly (400)
	ClientTimeout                           // a request body too slow to arrive (408)
	ClientDisconnect                        // the client went away before its body was complete (499)
	numClientKinds
)

var clientErrorKinds = [numClientKinds]string{"malformed", "timeout", "disconnect"}

// String returns the label value of k.
func (k ClientErrorKind) String() string {
	if k >= numClientKinds {
		return "malformed"
	}
	return clientErrorKinds[k]
}

// Route holds the series of one route. Safe for concurrent use; recording
// does not allocate once a (method, code) pair has been seen.
type Route struct {
	name   string
	parent *Metrics

	// Duration observes request durations in seconds.
	Duration prometheus.Observer
	// InFlight counts requests being handled.
	InFlight prometheus.Gauge

	upstreamErrors [numKinds]prometheus.Counter
	clientErrors   [numClientKinds]prometheus.Counter
	rateLimited    prometheus.Counter
	// served holds the fallback counters by source, once the route has a
	// breaker or a fallback (UseFallbacks); nil before.
	served atomic.Pointer[[numSources]prometheus.Counter]
	// breakerState is the route's breaker gauge; set by BreakerState.
	breakerState atomic.Pointer[prometheus.Gauge]
	// fallbacks reports the decisions a cluster rate limit made without
	// Redis; read at scrape time.
	fallbacks atomic.Pointer[func() uint64]

	// codes maps method index<<16|status to its counter. Copy on write:
	// readers load the map without a lock, the rare writer copies it.
	codes   atomic.Pointer[map[uint32]prometheus.Counter]
	codesMu sync.Mutex
}

// Name returns the route label value.
func (r *Route) Name() string { return r.name }

// Method is a request method as the method label holds it.
type Method uint8

// MethodOf returns the label index of method.
func MethodOf(method []byte) Method { return Method(methodIndex(method)) }

// CodeAborted is the code of an answer that was cut off after its head
// because the upstream broke it; its label value is "aborted".
const CodeAborted = 0

// Request counts one answered request.
func (r *Route) Request(method []byte, code int) {
	r.RequestOf(MethodOf(method), code)
}

// RequestOf is Request with the method given by MethodOf.
func (r *Route) RequestOf(method Method, code int) {
	mi := int(method)
	if mi >= len(methodNames) {
		mi = len(methodNames) - 1
	}
	key := uint32(mi)<<16 | uint32(code)&0xffff
	if c, ok := (*r.codes.Load())[key]; ok {
		c.Inc()
		return
	}
	r.newCode(key, mi, code).Inc()
}

func (r *Route) newCode(key uint32, mi int, code int) prometheus.Counter {
	r.codesMu.Lock()
	defer r.codesMu.Unlock()
	old := *r.codes.Load()
	if c, ok := old[key]; ok {
		return c
	}
	label := strconv.Itoa(code)
	if code == CodeAborted {
		label = "aborted"
	}
	c := r.parent.requests.WithLabelValues(r.name, methodNames[mi], label)
	next := make(map[uint32]prometheus.Counter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[key] = c
	r.codes.Store(&next)
	return c
}

// FallbackSource indexes the source label of gateway_fallback_served_total.
type FallbackSource uint8

// The sources of a fallback answer.
const (
	SourceCache FallbackSource = iota
	SourceUpstream
	SourceStatic
	SourceError
	numSources
)

var fallbackSources = [numSources]string{"cache", "upstream", "static", "error"}

// String returns the label value of s.
func (s FallbackSource) String() string {
	if s >= numSources {
		return "error"
	}
	return fallbackSources[s]
}

// UseFallbacks creates the route's gateway_fallback_served_total series,
// so that FallbackServed allocates nothing. Call it when building a route
// with a breaker or a fallback; it is idempotent.
func (r *Route) UseFallbacks() {
	if r.served.Load() != nil {
		return
	}
	var c [numSources]prometheus.Counter
	for s := range c {
		c[s] = r.parent.fallbacks.WithLabelValues(r.name, fallbackSources[s])
	}
	r.served.CompareAndSwap(nil, &c)
}

// FallbackServed counts one fallback answer from source. It does nothing
// before UseFallbacks.
func (r *Route) FallbackServed(source FallbackSource) {
	if c := r.served.Load(); c != nil && source < numSources {
		c[source].Inc()
	}
}

// BreakerState sets gateway_breaker_state of the route: 0 closed, 1
// half-open, 2 open. Called on state changes, not per request.
func (r *Route) BreakerState(state int) {
	g := r.breakerState.Load()
	if g == nil {
		c := r.parent.breakerState.WithLabelValues(r.name)
		r.breakerState.CompareAndSwap(nil, &c)
		g = r.breakerState.Load()
	}
	(*g).Set(float64(state))
}

// BreakerTransition counts the route's breaker entering state (0 closed,
// 1 half-open, 2 open).
func (r *Route) BreakerTransition(state int) {
	to := "open"
	switch state {
	case 0:
		to = "closed"
	case 1:
		to = "half_open"
	}
	r.parent.breakerChanges.WithLabelValues(r.name, to).Inc()
}

// NoBreaker removes the route's gateway_breaker_state series: the route
// no longer has a route-wide breaker.
func (r *Route) NoBreaker() {
	if r.breakerState.Swap(nil) != nil {
		r.parent.breakerState.DeleteLabelValues(r.name)
	}
}

// TargetBreakerState sets gateway_breaker_target_state of one upstream
// target (its "host:port") of the route. Called on state changes only.
func (r *Route) TargetBreakerState(target string, state int) {
	r.parent.targetBreakers.WithLabelValues(r.name, target).Set(float64(state))
}

// NoTargetBreakers removes the route's gateway_breaker_target_state
// series: the route no longer has per-target breakers.
func (r *Route) NoTargetBreakers() {
	r.parent.targetBreakers.DeletePartialMatch(prometheus.Labels{"route": r.name})
}

// RateLimited counts one request refused by the route's rate limit.
func (r *Route) RateLimited() { r.rateLimited.Inc() }

// RedisState records a cluster rate limit losing (up false) or finding
// again (up true) its Redis.
func (r *Route) RedisState(up bool) {
	if !up {
		r.parent.redisOutages.WithLabelValues(r.name).Inc()
	}
}

// SetRateLimitFallbacks makes gateway_ratelimit_redis_fallback_total of
// the route report f, read at every scrape; nil stops it.
func (r *Route) SetRateLimitFallbacks(f func() uint64) {
	if f == nil {
		r.fallbacks.Store(nil)
		return
	}
	r.fallbacks.Store(&f)
}

// fallbackCollector exports each route's rate-limit fallback count.
type fallbackCollector struct{ m *Metrics }

var fallbackDesc = prometheus.NewDesc("gateway_ratelimit_redis_fallback_total",
	"Decisions a route's cluster rate limit made by its on_redis_error mode because Redis could not answer.",
	[]string{"route"}, nil)

func (c *fallbackCollector) Describe(ch chan<- *prometheus.Desc) { ch <- fallbackDesc }

func (c *fallbackCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	for name, r := range c.m.routes {
		if f := r.fallbacks.Load(); f != nil {
			ch <- prometheus.MustNewConstMetric(fallbackDesc, prometheus.CounterValue, float64((*f)()), name)
		}
	}
}

// UpstreamError counts one failed upstream attempt.
func (r *Route) UpstreamError(kind UpstreamErrorKind) {
	if kind >= numKinds {
		kind = KindOther
	}
	r.upstreamErrors[kind].Inc()
}

// ClientError counts one request that failed through the client's fault.
func (r *Route) ClientError(kind ClientErrorKind) {
	if kind >= numClientKinds {
		kind = ClientMalformed
	}
	r.clientErrors[kind].Inc()
}

// methodNames bounds the method label: anything else is "OTHER".
var methodNames = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "OTHER"}

func methodIndex(m []byte) int {
	for i := 0; i < len(methodNames)-1; i++ {
		if string(m) == methodNames[i] {
			return i
		}
	}
	return len(methodNames) - 1
}

// noopCounter stands in for series that cannot happen.
type noopCounter struct{ prometheus.Counter }

func (noopCounter) Inc()        {}
func (noopCounter) Add(float64) {}
