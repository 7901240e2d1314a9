package config

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/fastgate/gateway/config/yamlcodec"
)

// Routes: the route table's entries, what they match and the header
// changes they make. Each backend and guard of a route has a file of its
// own (respond.go, upstream.go, grpc.go, publish.go, ratelimit.go,
// breaker.go, fallback.go).

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
	// HSTS is the Strict-Transport-Security value sent with the route's
	// answers over HTTPS ("max-age=31536000; includeSubDomains").
	// Default "": none.
	HSTS string `yaml:"hsts"`
	// Access controls who may use the route: CORS, IP lists, and JWT, API
	// key, basic or forward auth. Default: absent, everyone.
	Access *Access `yaml:"access"`
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
	// Compression compresses the route's answers for clients that accept
	// it. Default: none, answers go as they are.
	Compression *Compression `yaml:"compression"`
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

// HeaderOps changes headers. Remove is applied before Set.
type HeaderOps struct {
	// Set adds or replaces headers.
	Set map[string]string `yaml:"set"`
	// Remove deletes headers.
	Remove []string `yaml:"remove"`
}

// routeDefaults fills in what the route at p left out; maxBody is the
// server's max_body_size.
func routeDefaults(r *Route, p string, set map[string]bool, maxBody ByteSize) {
	zeroDefault(&r.MaxBodySize, maxBody)
	r.Match.Host = strings.ToLower(r.Match.Host)
	for j, m := range r.Match.Methods {
		r.Match.Methods[j] = strings.ToUpper(m)
	}
	if r.Respond != nil {
		respondDefaults(r.Respond, p+".respond", set, defaultStatus)
	}
	if r.Upstream != nil {
		upstreamDefaults(r.Upstream, p+".upstream", set)
	}
	if r.GRPC != nil {
		grpcDefaults(r.GRPC)
	}
	if r.Publish != nil {
		publishDefaults(r.Publish)
	}
	if r.Access != nil {
		accessDefaults(r.Access)
	}
	if r.RateLimit != nil {
		rateLimitDefaults(r.RateLimit, p+".rate_limit", set)
	}
	if r.CircuitBreaker != nil {
		breakerDefaults(r.CircuitBreaker)
	}
	if r.Fallback != nil {
		fallbackDefaults(r.Fallback, p+".fallback", set)
	}
	if r.WebSocket != nil {
		webSocketDefaults(r.WebSocket)
	}
	if r.Compression != nil {
		compressionDefaults(r.Compression)
	}
}

// routes checks that there are routes, and that their names are unique.
func (v *validator) routes(c *Config) {
	if len(c.Routes) == 0 && c.ConfigSource == nil { // else they come from the source
		v.errorf("routes", "at least one route is required")
	}
	names := make(map[string]int, len(c.Routes))
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Name == "" {
			continue
		}
		if first, dup := names[r.Name]; dup {
			p := "routes[" + strconv.Itoa(i) + "]"
			v.invalid(p+".name", r.Name, "already the name of "+v.routeRef(first, ".name", p+".name"))
			continue
		}
		names[r.Name] = i
	}
}

func (v *validator) route(r *Route, p string) {
	switch {
	case r.Name == "":
		v.errorf(p+".name", "is required")
	case !validName(r.Name):
		v.invalid(p+".name", r.Name, "may hold only letters, digits, '_', '.' and '-'")
	}
	v.match(&r.Match, p+".match")
	if r.StripPrefix != "" {
		v.stripPrefix(r, p+".strip_prefix")
	}
	v.headerOps(&r.RequestHeaders, p+".request_headers")
	v.headerOps(&r.ResponseHeaders, p+".response_headers")
	v.hsts(r, p)
	var backends []string
	for _, b := range []struct {
		name string
		set  bool
	}{{"respond", r.Respond != nil}, {"upstream", r.Upstream != nil}, {"grpc", r.GRPC != nil}, {"publish", r.Publish != nil}} {
		if b.set {
			backends = append(backends, b.name)
		}
	}
	switch {
	case len(backends) > 1:
		v.errorf(p, "has both %s; keep one", strings.Join(backends, " and "))
	case r.Respond != nil:
		v.respond(r.Respond, p+".respond")
	case r.Upstream != nil:
		v.upstream(r.Upstream, p+".upstream")
	case r.GRPC != nil:
		v.grpc(r, p+".grpc")
	case r.Publish != nil:
		v.publish(r, v.brokerSet, p+".publish")
	default:
		v.errorf(p, "needs one of respond, upstream, grpc or publish")
	}
	v.routeAccess(r, p)
	v.routeBreaker(r, p)
	v.routeFallback(r, p)
	if r.WebSocket != nil {
		v.webSocket(r, p+".websocket")
	}
	if r.Compression != nil {
		v.compression(r.Compression, p+".compression")
	}
}

func (v *validator) match(m *Match, p string) {
	switch {
	case m.Path == "" && m.PathPrefix == "":
		v.errorf(p, "needs one of path or path_prefix")
	case m.Path != "" && m.PathPrefix != "":
		v.errorf(p, "has both path and path_prefix; keep one")
	case m.Path != "":
		if msg := checkPath(m.Path, true); msg != "" {
			v.invalid(p+".path", m.Path, msg)
		}
	default:
		if msg := checkPath(m.PathPrefix, false); msg != "" {
			v.invalid(p+".path_prefix", m.PathPrefix, msg)
		}
	}
	if m.Host != "" {
		if msg := checkHost(m.Host); msg != "" {
			v.invalid(p+".host", m.Host, msg)
		}
	}
	v.methods(m.Methods, p+".methods")
}

// methods checks a list of HTTP methods: any RFC 9110 method token
// (extension methods such as PURGE or PROPFIND included), each once.
func (v *validator) methods(list []string, p string) {
	seen := make(map[string]bool, len(list))
	for i, meth := range list {
		mp := p + "[" + strconv.Itoa(i) + "]"
		switch {
		case !isToken(meth):
			v.invalid(mp, meth, "not a method name (want a token such as GET, POST or PURGE)")
		case seen[meth]:
			v.invalid(mp, meth, "listed twice")
		}
		seen[meth] = true
	}
}

func (v *validator) stripPrefix(r *Route, p string) {
	sp := r.StripPrefix
	from := "path_prefix"
	path := r.Match.PathPrefix
	if path == "" {
		from, path = "path", r.Match.Path
	}
	switch {
	case !strings.HasPrefix(sp, "/"):
		v.invalid(p, sp, `must start with "/"`)
	case strings.ContainsAny(sp, "{}"):
		v.invalid(p, sp, "must not hold path parameters")
	case path != "" && !strings.HasPrefix(path, sp):
		msg := "is not a prefix of the route's " + from
		if pp := strings.TrimSuffix(p, "strip_prefix") + "match." + from; !v.secrets[pp] {
			msg += " " + strconv.Quote(path)
		}
		v.invalid(p, sp, msg)
	}
}

func (v *validator) headerOps(h *HeaderOps, p string) {
	v.headers(h.Set, p+".set")
	for i, name := range h.Remove {
		if !isToken(name) {
			v.errorf(p+".remove["+strconv.Itoa(i)+"]", "%q: not a valid header name", name)
		}
	}
}

// headers checks the names and values of a header map.
func (v *validator) headers(m map[string]string, p string) {
	canon := make(map[string]string, len(m))
	for _, name := range sortedKeys(m) {
		hp := yamlcodec.KeyPath(p, name)
		if !isToken(name) {
			v.errorf(hp, "%q: not a valid header name", name)
			continue
		}
		if other, dup := canon[strings.ToLower(name)]; dup {
			v.errorf(hp, "%q: also set as %q (header names ignore case)", name, other)
		}
		canon[strings.ToLower(name)] = name
		if strings.ContainsAny(m[name], "\r\n\x00") {
			v.errorf(hp, "header value must not contain CR, LF or NUL")
		}
	}
}

// checkHost accepts a host name, or "*." and a host name. s is already
// lower case.
func checkHost(s string) string {
	name := strings.TrimPrefix(s, "*.")
	switch {
	case strings.Contains(name, "*"):
		return `a wildcard is only allowed as a leading "*.", like "*.example.com"`
	case strings.Contains(name, ":"):
		if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err != nil {
			return "must not contain a port"
		}
		return "IPv6 literals are not supported as route hosts"
	case !validHostname(name):
		return "not a valid host name"
	}
	return ""
}

// checkPath checks an exact path or prefix. An exact path may hold
// parameters: {name} as a whole segment, names unique within the path, and
// a catch-all {name...} as the last segment (the router's rules).
func checkPath(p string, template bool) string {
	if !strings.HasPrefix(p, "/") {
		return `must start with "/"`
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '?' || c == '#':
			return "must not contain '?' or '#'; match on the path only"
		case c <= ' ' || c == 0x7f:
			return "must not contain spaces or control characters"
		}
	}
	if msg := checkNormalPath(p, template); msg != "" {
		return msg
	}
	if !strings.ContainsAny(p, "{}") {
		return ""
	}
	if !template {
		return "parameters like {id} are only allowed in path, not path_prefix"
	}
	names := make(map[string]bool)
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		if !strings.ContainsAny(seg, "{}") {
			continue
		}
		open, closing := strings.Count(seg, "{"), strings.Count(seg, "}")
		if open != closing {
			return "unbalanced braces"
		}
		if open > 1 || seg[0] != '{' || seg[len(seg)-1] != '}' {
			return "a parameter must be a whole path segment, like /users/{id}/posts"
		}
		name := seg[1 : len(seg)-1]
		if n, ok := strings.CutSuffix(name, "..."); ok {
			if i != len(segs)-1 {
				return "a catch-all parameter {name...} must be the last segment"
			}
			name = n
		}
		if !validParam(name) {
			return "parameter names must match [A-Za-z_][A-Za-z0-9_]*"
		}
		if names[name] {
			return "a parameter name is used twice"
		}
		names[name] = true
	}
	return ""
}

// checkNormalPath refuses what no request can match: the gateway routes
// on the path decoded and cleaned ("//" merged, dot segments removed) and
// refuses targets holding an encoded "/", "%", backslash or ";", or a raw
// backslash or ";". A prefix's last segment may be partial ("/r/." matches
// "/r/.well-known"), so only its complete segments are checked.
func checkNormalPath(p string, exact bool) string {
	if strings.ContainsAny(p, "%\\;") {
		return "must not contain '%', '\\' or ';': requests are routed on the decoded path, and the gateway refuses these characters in it"
	}
	if strings.Contains(p, "//") {
		return `must not contain "//": requests are routed with "//" merged into "/"`
	}
	segs := strings.Split(p[1:], "/")
	if !exact {
		segs = segs[:len(segs)-1]
	}
	for _, seg := range segs {
		if seg == "." || seg == ".." {
			return `must not contain "." or ".." segments: requests are routed with them removed`
		}
	}
	return ""
}

// validParam is an environment variable name's rule: [A-Za-z_][A-Za-z0-9_]*.
func validParam(s string) bool { return yamlcodec.ValidEnvName(s) }
