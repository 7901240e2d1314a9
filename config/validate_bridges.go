package config

import (
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The checks of brokers, gRPC routes and publish routes.

func (v *validator) brokers(bs map[string]*Broker) {
	names := make([]string, 0, len(bs))
	for name := range bs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := keyPath("brokers", name)
		if !validName(name) {
			v.errorf(p, "%q: a broker name may hold only letters, digits, '_', '.' and '-'", name)
		}
		b := bs[name]
		if b == nil {
			v.errorf(p, "needs one of nats, amqp, kafka or redis")
			continue
		}
		var kinds []string
		for kind, set := range map[string]bool{
			BrokerNATS: b.NATS != nil, BrokerAMQP: b.AMQP != nil, BrokerKafka: b.Kafka != nil, BrokerRedis: b.Redis != nil,
		} {
			if set {
				kinds = append(kinds, kind)
			}
		}
		sort.Strings(kinds)
		switch len(kinds) {
		case 0:
			v.errorf(p, "needs one of nats, amqp, kafka or redis")
			continue
		case 1:
		default:
			v.errorf(p, "has %s; keep one", strings.Join(kinds, " and "))
			continue
		}
		switch {
		case b.NATS != nil:
			v.brokerURLs(p+".nats.url", b.NATS.URL, "nats", "tls", "ws", "wss")
		case b.AMQP != nil:
			v.brokerURLs(p+".amqp.url", b.AMQP.URL, "amqp", "amqps")
		case b.Kafka != nil:
			for i, addr := range b.Kafka.Brokers {
				if msg := checkDialAddr(addr); msg != "" {
					v.invalid(p+".kafka.brokers["+strconv.Itoa(i)+"]", addr, msg)
				}
			}
		case b.Redis != nil:
			if msg := checkDialAddr(b.Redis.Address); msg != "" {
				v.invalid(p+".redis.address", b.Redis.Address, msg)
			}
		}
	}
}

// brokerURLs checks a comma-separated list of URLs with one of schemes.
func (v *validator) brokerURLs(p, list string, schemes ...string) {
	for _, u := range strings.Split(list, ",") {
		scheme, rest, ok := strings.Cut(strings.TrimSpace(u), "://")
		host := rest
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			host = rest[at+1:]
		}
		host, _, _ = strings.Cut(host, "/")
		known := false
		for _, s := range schemes {
			known = known || scheme == s
		}
		switch {
		case !ok || !known:
			// The URL may hold a password: name the scheme, not the value.
			v.errorf(p, "want a %s:// URL", strings.Join(schemes, "://, "))
			return
		case host == "":
			v.errorf(p, "a URL has no host")
			return
		}
	}
}

// checkDialAddr checks an address to connect to: "host:port" with a host
// and a port other than 0.
func checkDialAddr(s string) string {
	if msg := checkHostPort(s); msg != "" {
		return msg
	}
	if host, port, _ := net.SplitHostPort(s); host == "" || port == "0" {
		return "want host:port with a host and a port other than 0"
	}
	return ""
}

func (v *validator) grpc(r *Route, p string) {
	g := r.GRPC
	switch t := g.Target; {
	case t == "":
		v.errorf(p+".target", "is required (host:port, consul://NAME or etcd://NAME)")
	case strings.HasPrefix(t, grpcDiscoveryConsul):
		v.grpcService(p+".target", strings.TrimPrefix(t, grpcDiscoveryConsul), SourceConsul)
	case strings.HasPrefix(t, grpcDiscoveryEtcd):
		v.grpcService(p+".target", strings.TrimPrefix(t, grpcDiscoveryEtcd), SourceEtcd)
	default:
		for _, addr := range strings.Split(t, ",") {
			if msg := checkDialAddr(strings.TrimSpace(addr)); msg != "" {
				v.invalid(p+".target", t, msg+" (or consul://NAME, etcd://NAME)")
				break
			}
		}
	}
	if msg := checkMethodName(g.Method); msg != "" {
		v.invalid(p+".method", g.Method, msg)
	}
	switch {
	case g.Descriptors != "" && g.Reflection:
		v.errorf(p, "has both descriptors and reflection; keep one")
	case g.Descriptors == "" && !g.Reflection:
		v.errorf(p, "needs descriptors (a descriptor set file) or reflection: true")
	case g.Descriptors != "":
		path := g.Descriptors
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(v.file), path)
		}
		switch info, err := os.Stat(path); {
		case err != nil:
			v.invalid(p+".descriptors", g.Descriptors, "cannot be read: "+errText(err))
		case !info.Mode().IsRegular():
			v.invalid(p+".descriptors", g.Descriptors, "is not a regular file")
		case info.Size() > maxDescriptorSet:
			v.invalid(p+".descriptors", g.Descriptors, "is larger than 64MiB")
		default:
			b, err := os.ReadFile(path)
			if err != nil {
				v.invalid(p+".descriptors", g.Descriptors, "cannot be read: "+errText(err))
			}
			g.descriptorSet = b
		}
	}
	v.headerNames(g.Metadata, p+".metadata")
	v.headerNames(g.ResponseMetadata, p+".response_metadata")
}

func (v *validator) grpcService(p, name, source string) {
	switch {
	case name == "" || strings.ContainsAny(name, "/ \t\r\n\x00"):
		v.errorf(p, "%s://NAME wants a service name without '/' or spaces", source)
	case source == SourceConsul && (v.disc == nil || v.disc.Consul == nil):
		v.errorf(p, "consul needs the top-level discovery.consul setting")
	case source == SourceEtcd && (v.disc == nil || v.disc.Etcd == nil):
		v.errorf(p, "etcd needs the top-level discovery.etcd setting")
	}
}

// maxDescriptorSet bounds a descriptor set file read at load.
const maxDescriptorSet = 64 << 20

// checkMethodName checks "package.Service/Method".
func checkMethodName(m string) string {
	svc, meth, ok := strings.Cut(m, "/")
	if m == "" {
		return "is required (package.Service/Method)"
	}
	if !ok || svc == "" || meth == "" || strings.Contains(meth, "/") {
		return "want package.Service/Method"
	}
	for _, part := range strings.Split(svc, ".") {
		if !validParam(part) {
			return "want package.Service/Method"
		}
	}
	if !validParam(meth) {
		return "want package.Service/Method"
	}
	return ""
}

func (v *validator) headerNames(names []string, p string) {
	for i, name := range names {
		if !isToken(name) {
			v.errorf(p+"["+strconv.Itoa(i)+"]", "%q: not a valid header name", name)
		}
	}
}

func (v *validator) publish(r *Route, brokers map[string]*Broker, p string) {
	pub := r.Publish
	b := brokers[pub.Broker]
	switch {
	case pub.Broker == "":
		v.errorf(p+".broker", "is required (a name under brokers)")
	case b == nil:
		v.invalid(p+".broker", pub.Broker, "no such broker under brokers")
	}
	dests := map[string]string{"subject": pub.Subject, "routing_key": pub.RoutingKey, "topic": pub.Topic, "stream": pub.Stream, "channel": pub.Channel}
	var want []string // the destination keys the broker's kind takes
	kind := ""
	if b != nil {
		kind = b.Kind()
	}
	switch kind {
	case BrokerNATS:
		want = []string{"subject"}
	case BrokerAMQP:
		want = []string{"routing_key"}
	case BrokerKafka:
		want = []string{"topic"}
	case BrokerRedis:
		want = []string{"stream", "channel"}
	}
	if kind != "" {
		given := 0
		for _, key := range []string{"subject", "routing_key", "topic", "stream", "channel"} {
			if dests[key] == "" {
				continue
			}
			ok := false
			for _, w := range want {
				ok = ok || key == w
			}
			if !ok {
				v.errorf(p+"."+key, "is not used by a %s broker (it takes %s)", kind, strings.Join(want, " or "))
				continue
			}
			given++
			v.template(r, p+"."+key, dests[key])
		}
		switch {
		case given == 0:
			v.errorf(p, "needs %s for a %s broker", strings.Join(want, " or "), kind)
		case given > 1:
			v.errorf(p, "has both stream and channel; keep one")
		}
		if pub.Exchange != "" && kind != BrokerAMQP {
			v.errorf(p+".exchange", "is only for an amqp broker")
		}
		if pub.Reply && kind != BrokerNATS {
			v.errorf(p+".reply", "is only for a nats broker")
		}
	}
	if name, ok := strings.CutPrefix(pub.Key, PerHeader); ok {
		if !isToken(name) {
			v.invalid(p+".key", pub.Key, "wants a header name after header:")
		}
	} else if pub.Key != "" {
		v.template(r, p+".key", pub.Key)
	}
	v.headerNames(pub.Headers, p+".headers")
	if !isToken(pub.IdempotencyHeader) {
		v.errorf(p+".idempotency_header", "%q: not a valid header name", pub.IdempotencyHeader)
	}
	switch pub.Mode {
	case ModeConfirm:
	case ModeFireAndForget:
		if pub.Reply {
			v.errorf(p+".mode", "fire_and_forget cannot wait for a reply")
		}
	default:
		v.invalid(p+".mode", pub.Mode, "must be confirm or fire_and_forget")
	}
}

// template checks that the {name} parameters of s are parameters of the
// route's path.
func (v *validator) template(r *Route, p, s string) {
	for rest := s; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				v.invalid(p, s, "unbalanced braces")
			}
			return
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			v.invalid(p, s, "unbalanced braces")
			return
		}
		name := rest[i+1 : i+j]
		if !strings.Contains(r.Match.Path, "{"+name+"}") {
			v.invalid(p, s, "{"+name+"} is not a parameter of match.path")
			return
		}
		rest = rest[i+j+1:]
	}
}
