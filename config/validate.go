package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// validator checks a decoded, defaulted Config and collects every problem,
// placing each at the position of its field (or of the nearest enclosing
// field the file wrote, for a missing one).
type validator struct {
	file    string // the main file
	pos     map[string]position
	bad     map[string]bool // paths that failed to decode: already reported
	secrets map[string]bool // paths whose value came from the environment
	disc    *Discovery      // the configured registries
	// haveRedis is true when the top-level redis is set.
	haveRedis bool
	brokerSet map[string]*Broker // the configured brokers
	starts    map[string]int     // each included file's first route
	errs      Errors
}

// routeRef names routes[i] for an error about another route: its index
// within its own file, and where it is (see where) as seen from the field
// at from.
func (v *validator) routeRef(i int, field, from string) string {
	p := "routes[" + strconv.Itoa(i) + "]"
	at := v.at(p)
	if start, ok := v.starts[at.file]; ok {
		p = localRoute(p, start)
	}
	return p + v.where("routes["+strconv.Itoa(i)+"]"+field, from)
}

// invalid reports a bad value, quoting it unless it came from the
// environment: such values may be secrets, and errors end up in logs.
func (v *validator) invalid(path string, value any, msg string) {
	if v.secrets[path] {
		v.errorf(path, "the value from the environment: %s", msg)
		return
	}
	if s, ok := value.(string); ok {
		value = strconv.Quote(s)
	}
	v.errorf(path, "%v: %s", value, msg)
}

func (v *validator) errorf(path, format string, args ...any) {
	for p := path; ; p = parentPath(p) {
		if v.bad[p] {
			return // a consequence of a decode error, not a new problem
		}
		if p == "" {
			break
		}
	}
	at := v.at(path)
	v.errs = append(v.errs, &FieldError{
		File: at.file, Line: at.line, Col: at.col, Field: path,
		Msg: fmt.Sprintf(format, args...),
	})
}

// at is where path was written, or the nearest enclosing field that was;
// the main file without a line when there is none.
func (v *validator) at(path string) position {
	for p := path; ; p = parentPath(p) {
		if pos, ok := v.pos[p]; ok {
			return pos
		}
		if p == "" {
			return position{file: v.file}
		}
	}
}

// parentPath drops the last element of a path: "a.b[2]" -> "a.b" -> "a".
func parentPath(p string) string {
	if strings.HasSuffix(p, `"]`) {
		if i := strings.LastIndex(p, `["`); i >= 0 {
			return p[:i]
		}
	}
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func (v *validator) config(c *Config) {
	if c.Listen != "" {
		if msg := checkHostPort(c.Listen); msg != "" {
			v.invalid("listen", c.Listen, msg)
		}
	}
	if c.Admin != AdminOff {
		if msg := checkHostPort(c.Admin); msg != "" {
			v.invalid("admin", c.Admin, msg+` (or "off")`)
		}
	}
	v.admin(c)
	for i, tp := range c.TrustedProxies {
		p := "trusted_proxies[" + strconv.Itoa(i) + "]"
		if msg, hint := checkTrustedProxy(tp); msg != "" {
			if hint != "" && !v.secrets[p] {
				msg += "; did you mean " + strconv.Quote(hint) + "?"
			}
			v.invalid(p, tp, msg)
		}
	}
	if c.Listen != "" && c.Admin != AdminOff && sameListener(c.Listen, c.Admin) {
		v.invalid("admin", c.Admin, "is the proxy listener's address too ("+strconv.Quote(c.Listen)+"); give the admin listener its own port")
	}
	v.ranges(reflect.ValueOf(c).Elem(), "")
	if c.Redis != nil {
		v.redis(c.Redis)
	}
	v.disc = &c.Discovery
	v.haveRedis = c.Redis != nil
	v.discovery(&c.Discovery)
	v.brokerSet = c.Brokers
	v.brokers(c.Brokers)
	if c.AccessLog != nil {
		v.accessLog(c.AccessLog)
	}
	if c.Tracing != nil {
		v.tracing(c.Tracing)
	}
	if len(c.Routes) == 0 {
		v.errorf("routes", "at least one route is required")
	}
	names := make(map[string]int)
	for i := range c.Routes {
		r := &c.Routes[i]
		p := "routes[" + strconv.Itoa(i) + "]"
		v.route(r, p)
		if r.Name == "" {
			continue
		}
		if first, dup := names[r.Name]; dup {
			v.invalid(p+".name", r.Name, "already the name of "+v.routeRef(first, ".name", p+".name"))
			continue
		}
		names[r.Name] = i
	}
	v.rateLimits(c)
	v.cacheSizes(c)
}

// discovered checks an upstream that a registry lists.
func (v *validator) discovered(u *Upstream, p string) {
	switch u.Discovery {
	case "":
		v.errorf(p+".discovery", "is required with service (consul or etcd)")
	case SourceConsul:
		if v.disc == nil || v.disc.Consul == nil {
			v.errorf(p+".discovery", "consul needs the top-level discovery.consul setting")
		}
	case SourceEtcd:
		if v.disc == nil || v.disc.Etcd == nil {
			v.errorf(p+".discovery", "etcd needs the top-level discovery.etcd setting")
		}
	default:
		v.invalid(p+".discovery", u.Discovery, "unknown discovery (want consul or etcd)")
	}
	if strings.ContainsAny(u.Service, "/ \t\r\n\x00") {
		v.invalid(p+".service", u.Service, "must not contain '/', spaces or control characters")
	}
}

func (v *validator) discovery(d *Discovery) {
	if c := d.Consul; c != nil {
		switch c.Consistency {
		case "stale", "default", "consistent":
		default:
			v.invalid("discovery.consul.consistency", c.Consistency, "must be stale, default or consistent")
		}
	}
	if e := d.Etcd; e != nil {
		for i, ep := range e.Endpoints {
			if ep == "" {
				v.errorf("discovery.etcd.endpoints["+strconv.Itoa(i)+"]", "must not be empty")
			}
		}
		if !strings.HasPrefix(e.Prefix, "/") {
			v.invalid("discovery.etcd.prefix", e.Prefix, `must start with "/"`)
		}
	}
}

func (v *validator) redis(r *Redis) {
	if msg := checkHostPort(r.Address); msg != "" {
		v.invalid("redis.address", r.Address, msg)
	}
}

// rateLimits checks each route's limit, and that the routes sharing a
// bucket agree on it.
func (v *validator) rateLimits(c *Config) {
	buckets := make(map[string]int)
	for i := range c.Routes {
		rl := c.Routes[i].RateLimit
		if rl == nil {
			continue
		}
		p := "routes[" + strconv.Itoa(i) + "].rate_limit"
		v.rateLimit(rl, p, c.Redis != nil)
		if rl.Bucket == "" {
			continue
		}
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
		if _, written := v.pos[p+".rate"]; !written {
			v.errorf(p+".rate", "is required")
		} else {
			v.invalid(p+".rate", float64(rl.Rate), "must be > 0")
		}
	}
	switch {
	case rl.Per == PerRoute || rl.Per == PerClientIP:
	case strings.HasPrefix(rl.Per, PerHeader):
		if name := strings.TrimPrefix(rl.Per, PerHeader); !isToken(name) {
			v.invalid(p+".per", rl.Per, "wants a header name after header:")
		}
	case strings.HasPrefix(rl.Per, PerQuery):
		if strings.TrimPrefix(rl.Per, PerQuery) == "" {
			v.invalid(p+".per", rl.Per, "wants a parameter name after query:")
		}
	default:
		v.invalid(p+".per", rl.Per, "must be route, client_ip, header:NAME or query:NAME")
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

// where is " (line N)" for a recorded path in the file that from is in,
// " (file:N)" for one in another file, or "".
func (v *validator) where(path, from string) string {
	pos, ok := v.pos[path]
	switch {
	case !ok:
		return ""
	case pos.file == v.at(from).file:
		return " (line " + strconv.Itoa(pos.line) + ")"
	default:
		return " (" + pos.file + ":" + strconv.Itoa(pos.line) + ")"
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
	v.guard(r, p)
	if r.WebSocket != nil {
		v.webSocket(r, p+".websocket")
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
		hp := keyPath(p, name)
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

func (v *validator) respond(r *Respond, p string) {
	if r.Status < 100 || r.Status > 599 {
		v.invalid(p+".status", r.Status, "must be an HTTP status 100-599")
	}
	v.headers(r.Headers, p+".headers")
	if r.BodyFile == "" {
		return
	}
	if r.Body != "" {
		v.errorf(p+".body_file", "set body or body_file, not both")
		return
	}
	path := r.BodyFile
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(v.file), path)
	}
	info, err := os.Stat(path)
	switch {
	case err != nil:
		v.invalid(p+".body_file", r.BodyFile, "cannot be read: "+errText(err))
	case !info.Mode().IsRegular():
		v.invalid(p+".body_file", r.BodyFile, "is not a regular file")
	case info.Size() > maxBodyFile:
		v.invalid(p+".body_file", r.BodyFile, "is larger than 10MiB")
	default:
		b, err := os.ReadFile(path)
		if err != nil {
			v.invalid(p+".body_file", r.BodyFile, "cannot be read: "+errText(err))
			return
		}
		r.fileBody = b
	}
}

// maxBodyFile bounds a respond or static body read from a file.
const maxBodyFile = 10 << 20

// errText is an error's message without the path it repeats.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (v *validator) upstream(u *Upstream, p string) {
	switch {
	case len(u.Targets) > 0 && u.Service != "":
		v.errorf(p, "has both targets and service; keep one")
	case u.Service != "":
		v.discovered(u, p)
	case u.Discovery != "":
		v.errorf(p+".service", "is required with discovery")
	case len(u.Targets) == 0:
		v.errorf(p+".targets", "at least one target is required (or a service and its discovery)")
	}
	seen := make(map[string]int, len(u.Targets))
	for i, t := range u.Targets {
		tp := p + ".targets[" + strconv.Itoa(i) + "]"
		key, msg := checkTarget(t.URL)
		switch first, dup := seen[key]; {
		case t.URL == "":
			v.errorf(tp+".url", "is required (want http://host:port)")
		case msg != "":
			v.invalid(tp+".url", t.URL, msg)
		case dup:
			v.invalid(tp+".url", t.URL, fmt.Sprintf("the same target as targets[%d]", first))
		default:
			seen[key] = i
		}
	}
	switch u.Balance {
	case BalanceRoundRobin, BalanceWeighted, BalanceLeastRequest:
	default:
		v.invalid(p+".balance", u.Balance, "unknown balance (want round_robin, weighted or least_request)")
	}
	if strings.ContainsAny(u.HostHeader, " \t\r\n\x00") {
		v.errorf(p+".host_header", "must not contain spaces or control characters")
	}
}

// checkTrustedProxy accepts an IP address or a CIDR range without host
// bits. hint is the range that was probably meant.
func checkTrustedProxy(s string) (msg, hint string) {
	const want = "not an IP address or CIDR range"
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return want, ""
		}
		if pfx.Masked() != pfx {
			return "has bits set past the prefix length", pfx.Masked().String()
		}
		return "", ""
	}
	if _, err := netip.ParseAddr(s); err != nil {
		return want, ""
	}
	return "", ""
}
