package config

import "time"

// Config is one gateway configuration as the operator wrote it, after
// defaults were applied. It is plain data: the gateway compiles it into
// runtime objects.
type Config struct {
	// Listen is the address of the proxy listener. Default ":8080".
	// Changing it needs a restart.
	Listen string `yaml:"listen" reload:"restart"`
	// Admin is the address of the admin listener (/metrics, /healthz,
	// /readyz, /-/config, /-/routes). Default "127.0.0.1:9901". The value
	// "off" disables the admin listener.
	Admin string `yaml:"admin" reload:"restart"`
	// AdminHosts are more host names (without port) the admin listener
	// accepts in the Host header of its configuration, reload and debug
	// endpoints, for a listener reached by name. IP addresses and
	// "localhost" are always accepted (only loopback ones when it listens
	// on loopback): a name that is not on the list could be a DNS
	// rebinding. Default: none.
	AdminHosts []string `yaml:"admin_hosts"`
	// AdminAuth requires a bearer token for the admin listener's
	// configuration, reload and debug endpoints; /metrics, /healthz and
	// /readyz stay open. Default: absent, no token.
	AdminAuth *AdminAuth `yaml:"admin_auth"`
	// AdminEndpoints turns optional admin endpoints off. Default: all on.
	AdminEndpoints AdminEndpoints `yaml:"admin_endpoints"`
	// TrustedProxies lists the peers (IP addresses or CIDR ranges) whose
	// X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host headers are
	// kept and extended. Headers from any other peer are replaced. Default:
	// none, so every client's forwarded headers are replaced.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Server holds the limits and timeouts of the proxy listener.
	Server Server `yaml:"server"`
	// Redis is the server that cluster-wide rate limits share. Default:
	// none; a route with rate_limit.scope: cluster needs it.
	Redis *Redis `yaml:"redis"`
	// Discovery configures the registries that upstream.service names are
	// resolved in. Changing it needs a restart.
	Discovery Discovery `yaml:"discovery" reload:"restart"`
	// Include names more files whose routes are appended to Routes, file
	// after file, after the routes written here. Each entry is a path or a
	// glob (filepath.Glob syntax: "routes.d/*.yaml"), relative to the
	// directory of this file unless absolute. A glob's matches are taken
	// in name order, leaving out directories and names that start with "."
	// (unless the pattern's last element does too); a glob may match
	// nothing. A path without glob characters must name an existing file.
	// A file is read once however often it is matched, and this file is
	// never included again. An included file holds a mapping with only
	// routes (and "x-" keys for anchors); it cannot include others.
	// Environment references work here too. Default: none.
	Include []string `yaml:"include"`
	// Cache sizes the store of fallback copies (routes' fallback.cache).
	// Default: absent, which stands for the defaults of its fields.
	// Changing it needs a restart.
	Cache *Cache `yaml:"cache" reload:"restart"`
	// AccessLog writes one line per request. Default: absent, no access
	// log. A reload applies a change: requests from then on log through
	// the new settings, and the old log is flushed and closed once the
	// requests that started before the reload are done.
	AccessLog *AccessLog `yaml:"access_log"`
	// Tracing exports spans over OTLP. Default: absent, no export (an
	// incoming traceparent is still passed on with the gateway's own span
	// id). A reload applies a change as for access_log; one that turns
	// the export on or off builds every route again, so their breakers
	// and local rate-limit buckets start afresh.
	Tracing *Tracing `yaml:"tracing"`
	// Brokers are the message brokers that publish routes send to, by
	// name. Default: none.
	Brokers map[string]*Broker `yaml:"brokers"`
	// Routes are matched by the router; see docs/routing.md for precedence.
	Routes []Route `yaml:"routes"`

	file     string              // the name given to Load or Parse
	pos      map[string]position // field path -> where a file wrote it
	secrets  map[string]bool     // field paths whose value came from the environment
	files    []string            // every file read, main first, absolute
	includes []string            // Include resolved, absolute
	starts   map[string]int      // each included file's first route in Routes
}

// AdminAuth protects admin endpoints with a bearer token.
type AdminAuth struct {
	// TokenFile names the file holding the token (surrounding white
	// space ignored), relative to the main configuration file's directory.
	// It is read when the configuration loads: a new token takes effect
	// with the next reload. Required, at most 4KiB, at least 16 bytes.
	TokenFile string `yaml:"token_file"`

	// token is TokenFile's content, read by Load.
	token []byte
}

// Token returns the token read from TokenFile. Read-only.
func (a *AdminAuth) Token() []byte { return a.token }

// AdminEndpoints switches optional admin endpoints.
type AdminEndpoints struct {
	// Pprof serves Go's profiler under /debug/pprof/. Default true.
	Pprof bool `yaml:"pprof"`
	// Reload serves POST /-/reload. Default true. Reloads on file change
	// and SIGHUP go on either way.
	Reload bool `yaml:"reload"`
}

// Server holds the limits and timeouts of the proxy listener.
type Server struct {
	// ReadTimeout bounds reading one request's headers and body from the
	// client. Default 60s. Zero means the default.
	ReadTimeout time.Duration `yaml:"read_timeout" range:"100ms,1h" reload:"restart"`
	// WriteTimeout bounds writing one response to the client. Default 60s.
	// Zero means the default.
	WriteTimeout time.Duration `yaml:"write_timeout" range:"100ms,1h" reload:"restart"`
	// IdleTimeout closes a keep-alive client connection idle for this
	// long. Default 60s. Zero means the default.
	IdleTimeout time.Duration `yaml:"idle_timeout" range:"100ms,1h" reload:"restart"`
	// DrainTimeout is how long a shutdown waits for in-flight requests
	// before exiting, counted after ShutdownDelay: past it the process
	// exits whatever is still running. Default 30s. Zero means the
	// default.
	DrainTimeout time.Duration `yaml:"drain_timeout" range:"100ms,1h"`
	// ShutdownDelay is how long a shutdown keeps serving after /readyz
	// turned 503, so that load balancers stop sending new requests before
	// the listener closes. Default 0: close at once.
	ShutdownDelay time.Duration `yaml:"shutdown_delay" range:"0s,10m"`
	// MaxHeaderBytes is the largest request head (request line plus
	// headers) accepted; larger ones get 431. Default 8KiB. Zero means the
	// default.
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes" range:"1KiB,64KiB" reload:"restart"`
	// MaxURILength is the longest request target (path and query, as the
	// client sent it) accepted, in bytes; longer ones get 414. The whole
	// head must still fit max_header_bytes (431 otherwise). Default 4KiB.
	// Zero means the default.
	MaxURILength ByteSize `yaml:"max_uri_length" range:"256B,64KiB"`
	// MaxHeaderCount is the most header lines a request may carry; more
	// get 431. Default 100. Zero means the default.
	MaxHeaderCount int `yaml:"max_header_count" range:"10,1000"`
	// MaxBodySize is the default request body limit of every route; larger
	// bodies get 413. Default 10MiB. Zero means the default.
	MaxBodySize ByteSize `yaml:"max_body_size" range:"1B,64GiB"`
	// MaxConnsPerIP limits concurrent client connections from one IP.
	// Default 0: no limit.
	MaxConnsPerIP int `yaml:"max_conns_per_ip" range:"0,1000000" reload:"restart"`
	// Concurrency limits client connections served at once (idle
	// keep-alive ones included); excess connections get 503. Default 0:
	// derived from the open-file limit (three quarters of it less 128,
	// 64 to 256Ki), so that clients cannot take the descriptors upstream
	// connections need.
	Concurrency int `yaml:"concurrency" range:"0,10000000" reload:"restart"`
}

// Route is one entry of the route table.
type Route struct {
	// Name identifies the route in metrics, logs and errors. Required,
	// unique, [A-Za-z0-9_.-]+.
	Name string `yaml:"name"`
	// Match says which requests the route takes.
	Match Match `yaml:"match"`
	// StripPrefix is removed from the start of the path before forwarding.
	// Default "": the path is forwarded as is.
	StripPrefix string `yaml:"strip_prefix"`
	// MaxBodySize overrides server.max_body_size for this route. Zero
	// means the server's value.
	MaxBodySize ByteSize `yaml:"max_body_size" range:"1B,64GiB"`
	// RequestHeaders are applied to the request before it is forwarded.
	RequestHeaders HeaderOps `yaml:"request_headers"`
	// ResponseHeaders are applied to the answer before it is sent.
	ResponseHeaders HeaderOps `yaml:"response_headers"`
	// RateLimit limits the requests the route admits. Default: no limit.
	RateLimit *RateLimit `yaml:"rate_limit"`
	// Respond makes the gateway answer by itself. Exactly one of Respond,
	// Upstream, GRPC and Publish is set.
	Respond *Respond `yaml:"respond"`
	// Upstream forwards the request to HTTP servers.
	Upstream *Upstream `yaml:"upstream"`
	// GRPC bridges the request to a gRPC method.
	GRPC *GRPC `yaml:"grpc"`
	// Publish publishes the request body to a broker.
	Publish *Publish `yaml:"publish"`
	// AccessLog samples or silences the route's access log lines.
	// Default: every request logged when the top-level access_log is on.
	AccessLog *RouteAccessLog `yaml:"access_log"`
	// CircuitBreaker stops sending requests to a failing upstream for a
	// while. Only with Upstream or GRPC. Default: none.
	CircuitBreaker *CircuitBreaker `yaml:"circuit_breaker"`
	// Fallback is what the client gets when the upstream failed or the
	// breaker is open. Only with Upstream. Default: none, the plain error.
	Fallback *Fallback `yaml:"fallback"`
	// WebSocket says how the route passes WebSocket upgrades. Only with
	// Upstream. Default: on, with the defaults of its fields.
	WebSocket *WebSocket `yaml:"websocket"`
}

// CircuitBreaker is a route's circuit breaker. It opens when either rule
// trips: FailureRatio over at least MinRequests calls, or
// ConsecutiveFailures in a row, both within Window.
type CircuitBreaker struct {
	// FailureRatio opens the breaker when at least this share (0..1) of
	// the calls within Window failed. Default 0: the ratio rule is off.
	FailureRatio float64 `yaml:"failure_ratio" range:"0,1"`
	// MinRequests is how many calls Window must hold before FailureRatio
	// applies. Default 0: from the first call.
	MinRequests int `yaml:"min_requests" range:"0,1000000"`
	// ConsecutiveFailures opens the breaker after this many failures in a
	// row. Default 0: the rule is off, unless FailureRatio is 0 too; then
	// it is 5.
	ConsecutiveFailures int `yaml:"consecutive_failures" range:"0,1000000"`
	// Window is how far back the counts reach. Default 10s. Zero means the
	// default.
	Window time.Duration `yaml:"window" range:"1s,24h"`
	// OpenFor is how long the breaker stays open before probing. Default
	// 30s. Zero means the default.
	OpenFor time.Duration `yaml:"open_for" range:"100ms,24h"`
	// HalfOpenRequests is how many probe calls pass once OpenFor is over;
	// all must succeed to close the breaker. Default 1. Zero means the
	// default.
	HalfOpenRequests int `yaml:"half_open_requests" range:"1,1000"`
	// FailureOn lists the upstream statuses (100-599) that count as
	// failures. Default: every 5xx. Connection errors and timeouts always
	// count; a 4xx counts only when listed.
	FailureOn []int `yaml:"failure_on"`
	// Per says what one breaker guards: "route" (default: one breaker for
	// the whole route) or "target" (one per upstream target, so one bad
	// instance is skipped while the others serve; the route's requests
	// fail over to a target whose breaker is closed).
	Per string `yaml:"per"`
}

// Circuit breaker scopes.
const (
	BreakerPerRoute  = "route"
	BreakerPerTarget = "target"
)

// Fallback says what a route serves instead of an upstream error.
type Fallback struct {
	// Methods are the request methods that get a fallback; others get the
	// plain error. Default [GET, HEAD].
	Methods []string `yaml:"methods"`
	// Cache serves the last good response for the same request. Default:
	// none.
	Cache *FallbackCache `yaml:"cache"`
	// Upstream is an alternate upstream (another target list or
	// discovered service, e.g. a read-only replica), tried when there is
	// no cached copy, with its own timeout. Same keys as a route's
	// upstream. Default: none.
	Upstream *Upstream `yaml:"upstream"`
	// Static is a fixed answer, served when there is no cached copy and
	// the alternate upstream (if any) failed too. Default: none.
	Static *Respond `yaml:"static"`
	// OnStatus lists upstream answer statuses (400-599) that take the
	// fallback chain as a failed upstream does, as nginx's
	// proxy_cache_use_stale http_503 does. Default: none, the upstream's
	// answer is passed on whatever its status.
	OnStatus []int `yaml:"on_status"`
}

// FallbackCache keeps a route's last good responses in the gateway-wide
// cache (the top-level cache section).
type FallbackCache struct {
	// MaxStale is the age past which a stored copy is no longer served.
	// Default 5m. Zero means the default.
	MaxStale time.Duration `yaml:"max_stale" range:"1s,168h"`
	// Vary names request headers whose values are part of the cache key,
	// besides method, host, path and query. Default: none.
	Vary []string `yaml:"vary"`
	// MaxEntrySize is the largest response body stored; a response
	// without Content-Length or with a larger one is not stored. Default
	// 1MiB. Zero means the default.
	MaxEntrySize ByteSize `yaml:"max_entry_size" range:"1B,1GiB"`
	// AllowPrivate stores responses marked Cache-Control: private or
	// carrying Set-Cookie (the Set-Cookie header itself is never stored).
	// Set it only when the answers are the same for every client. Default
	// false.
	AllowPrivate bool `yaml:"allow_private"`
	// MarkerHeader and MarkerValue are the header added to a cached copy
	// served as a fallback. Default "X-Cache: STALE". Zero means the
	// default.
	// Store is where copies are kept: "memory" (default: this instance's
	// own) or "redis" (also in the top-level redis, so that every gateway
	// instance serves the copies any of them stored; memory still serves
	// while Redis is down).
	Store        string `yaml:"store"`
	MarkerHeader string `yaml:"marker_header"`
	MarkerValue  string `yaml:"marker_value"`
}

// Cache is the gateway-wide store of fallback copies, shared by every
// route with fallback.cache (each route's entries are its own).
type Cache struct {
	// MaxBytes bounds what the cache holds, keys, headers and bodies
	// counted. Default 64MiB. Zero means the default.
	MaxBytes ByteSize `yaml:"max_bytes" range:"64KiB,64GiB"`
	// MaxEntries bounds the number of entries. Default 0: no limit but
	// MaxBytes. Otherwise at least 2.
	MaxEntries int `yaml:"max_entries" range:"2,100000000,zero"`
}

// Match selects requests. At least one of Path and PathPrefix is required,
// and not both.
type Match struct {
	// Path is an exact path ("/hello") or a template with parameters
	// ("/users/{id}").
	Path string `yaml:"path"`
	// PathPrefix matches every path that starts with it.
	PathPrefix string `yaml:"path_prefix"`
	// Host is an exact host ("api.example.com") or a wildcard
	// ("*.example.com"). Default "": any host.
	Host string `yaml:"host"`
	// Methods lists the accepted methods, upper case. Default: any method.
	Methods []string `yaml:"methods"`
}

// Respond is an answer the gateway makes by itself.
type Respond struct {
	// Status is the HTTP status. Default 200.
	Status int `yaml:"status"`
	// Body is sent as is. Default "".
	Body string `yaml:"body"`
	// BodyFile names a file whose content is the body instead, relative to
	// the main configuration file's directory. It is read when the
	// configuration loads: a changed file is served after the next reload.
	// At most 10MiB. Default "": none.
	BodyFile string `yaml:"body_file"`
	// Headers are added to the answer.
	Headers map[string]string `yaml:"headers"`

	// fileBody is BodyFile's content, read by Load.
	fileBody []byte
}

// Content returns the body to send: BodyFile's content when set, else
// Body. Read-only.
func (r *Respond) Content() []byte {
	if r.BodyFile != "" {
		return r.fileBody
	}
	return []byte(r.Body)
}

// HeaderOps changes headers. Remove is applied before Set.
type HeaderOps struct {
	// Set adds or replaces headers.
	Set map[string]string `yaml:"set"`
	// Remove deletes headers.
	Remove []string `yaml:"remove"`
}

// Upstream is a set of HTTP servers that a route forwards to.
type Upstream struct {
	// Targets are the servers, each "http://host:port" or
	// {url: "http://host:port", weight: N}. Exactly one of Targets and
	// Service is required.
	Targets []Target `yaml:"targets"`
	// Service names a service whose instances a registry lists; they are
	// followed live. Needs Discovery.
	Service string `yaml:"service"`
	// Discovery is the registry Service is looked up in: "consul" or
	// "etcd", configured in the top-level discovery section.
	Discovery string `yaml:"discovery"`
	// Balance picks a target per request: round_robin (default), weighted,
	// least_request (power of two choices).
	Balance string `yaml:"balance"`
	// Timeout bounds the whole upstream exchange, from connect to the end
	// of the response headers; past it the client gets 504. Default 30s.
	Timeout time.Duration `yaml:"timeout" range:"1ms,1h"`
	// ConnectTimeout bounds a TCP connect to a target. Default 5s.
	ConnectTimeout time.Duration `yaml:"connect_timeout" range:"1ms,1m"`
	// ReadTimeout bounds each read from a target connection. Default 60s.
	ReadTimeout time.Duration `yaml:"read_timeout" range:"1ms,1h"`
	// WriteTimeout bounds each write to a target connection. Default 60s.
	WriteTimeout time.Duration `yaml:"write_timeout" range:"1ms,1h"`
	// IdleTimeout closes pooled keep-alive connections idle this long.
	// Default 60s.
	IdleTimeout time.Duration `yaml:"idle_timeout" range:"100ms,1h"`
	// MaxConns caps open connections per target. Default 512.
	MaxConns int `yaml:"max_conns" range:"1,100000"`
	// Retries is how many other targets are tried after a connection
	// failure. Default 1. Only idempotent methods are retried unless
	// RetryNonIdempotent is set.
	Retries *int `yaml:"retries" range:"0,10"`
	// RetryNonIdempotent allows retrying POST, PATCH and other
	// non-idempotent requests after a connection failure. Default false:
	// only idempotent methods and requests carrying an Idempotency-Key
	// header are retried.
	RetryNonIdempotent bool `yaml:"retry_non_idempotent"`
	// RetryBudget is the share (0..1) of the route's requests in flight
	// that may be retries at any moment; 3 concurrent retries are always
	// allowed. It keeps retries from multiplying the load on an upstream
	// that is failing. Default 0.2.
	RetryBudget *float64 `yaml:"retry_budget" range:"0,1"`
	// ConnWait is how long a request waits for a connection when
	// max_conns are busy before it gets 503. Default 250ms; 0: no wait.
	ConnWait *time.Duration `yaml:"conn_wait" range:"0s,1m"`
	// MaxResponseSize bounds the upstream's response body: a larger
	// declared Content-Length is a 502; a chunked body that grows past it
	// is cut off and the client connection closed. Default 0: no bound.
	MaxResponseSize ByteSize `yaml:"max_response_size" range:"1B,64GiB,zero"`
	// HostHeader replaces the Host header sent upstream. Default "": the
	// client's Host is passed on.
	HostHeader string `yaml:"host_header"`
	// BodyIdleTimeout bounds the wait for each next piece of a streamed
	// request body (chunked, or over 64 KiB) from the client; past it the
	// client gets 408 and the upstream request is cut off. Default 30s.
	BodyIdleTimeout time.Duration `yaml:"body_idle_timeout" range:"100ms,1h"`
	// MaxStreamedBodies caps the requests with a streamed body being
	// forwarded at once, so that slow uploads cannot hold every upstream
	// connection; past it such a request gets 503 at once. Default: half
	// of max_conns, at least 1.
	MaxStreamedBodies int `yaml:"max_streamed_bodies" range:"1,100000"`
	// PassiveHealth takes failing targets out of rotation.
	PassiveHealth PassiveHealth `yaml:"passive_health"`
}

// Target is one upstream server.
type Target struct {
	// URL is "http://host:port". Required.
	URL string `yaml:"url" redact:"url"`
	// Weight is the target's share under balance: weighted. Default 1.
	Weight int `yaml:"weight" range:"1,10000"`
}

// PassiveHealth takes a target out of rotation after consecutive connection
// failures.
type PassiveHealth struct {
	// MaxFailures is how many consecutive failed connects take a target out.
	// Default 3.
	MaxFailures int `yaml:"max_failures" range:"1,10000"`
	// Cooldown is how long a failed target stays out before it is tried
	// again. Default 10s.
	Cooldown time.Duration `yaml:"cooldown" range:"100ms,24h"`
}

// ByteSize is a size in bytes. In YAML it is an integer or a string with a
// unit: "512", "64KiB", "10MiB", "1GiB", "10MB" (powers of 1000 for KB, MB,
// GB; of 1024 for KiB, MiB, GiB).
type ByteSize int64

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
	// parameter all share one bucket of their own.
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
	// local fallback gets Rate / Instances. Default 1.
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

// Redis is a Redis server.
type Redis struct {
	// Address is host:port. Default "127.0.0.1:6379".
	Address string `yaml:"address"`
	// Username and Password authenticate (Redis 6 ACLs); default none.
	Username string `yaml:"username"`
	Password string `yaml:"password" redact:"secret"`
	// DB selects the database. Default 0.
	DB int `yaml:"db" range:"0,100000"`
	// Timeout bounds one Redis call; past it the call counts as Redis being
	// unreachable. Default 50ms.
	Timeout time.Duration `yaml:"timeout" range:"1ms,1m"`
	// PoolSize caps connections to Redis. Default 10 per CPU.
	PoolSize int `yaml:"pool_size" range:"0,10000"`
}

// Discovery configures service registries.
type Discovery struct {
	// Consul is a Consul agent. Default: none.
	Consul *Consul `yaml:"consul"`
	// Etcd is an etcd cluster. Default: none.
	Etcd *Etcd `yaml:"etcd"`
	// StateFile keeps the last known instances of every service, so that a
	// gateway restarted while a registry is down still serves. Default "":
	// none.
	StateFile string `yaml:"state_file"`
}

// Consul is a Consul agent whose health endpoint lists instances.
type Consul struct {
	// Address is host:port or a URL. Default "127.0.0.1:8500".
	Address string `yaml:"address" redact:"url"`
	// Token is the ACL token. Default: none.
	Token string `yaml:"token" redact:"secret"`
	// Datacenter to ask. Default: the agent's.
	Datacenter string `yaml:"datacenter"`
	// Tag keeps only instances with this tag. Default: all.
	Tag string `yaml:"tag"`
	// Consistency of reads: stale (default), default or consistent.
	Consistency string `yaml:"consistency"`
	// IncludeFailing also lists instances whose checks fail. Default
	// false: passing instances only.
	IncludeFailing bool `yaml:"include_failing"`
	// WaitTime is how long a blocking query waits for a change. Default 5m.
	WaitTime time.Duration `yaml:"wait_time" range:"1s,10m"`
}

// Etcd is an etcd cluster where instances register under a prefix.
type Etcd struct {
	// Endpoints are the members' client addresses. Default
	// ["127.0.0.1:2379"].
	Endpoints []string `yaml:"endpoints" redact:"url"`
	// Prefix is where services live: <prefix><service>/<instance-id>.
	// Default "/services/".
	Prefix string `yaml:"prefix"`
	// Username and Password authenticate. Default: none.
	Username string `yaml:"username"`
	Password string `yaml:"password" redact:"secret"`
	// DialTimeout bounds connecting. Default 5s.
	DialTimeout time.Duration `yaml:"dial_timeout" range:"1ms,1m"`
}
