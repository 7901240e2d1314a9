package config

import (
	"os"
	"strings"
	"time"
)

// Routes bridged to a gRPC method: a route's grpc.

// GRPC bridges a route to a gRPC method: the JSON body, path parameters
// and query build the request message; the answer goes back as JSON.
type GRPC struct {
	// Target is where the method is served: "host:port", several
	// separated by commas (balanced round robin), or a discovered service,
	// "consul://NAME" or "etcd://NAME". Required.
	Target string `yaml:"target" redact:"url"`
	// Method is "package.Service/Method". Required. Client and
	// bidirectional streaming methods are not supported.
	Method string `yaml:"method"`
	// Descriptors is a descriptor set file (protoc --include_imports
	// --descriptor_set_out), relative to the main file's directory, read
	// at each load. Exactly one of Descriptors and Reflection is required.
	Descriptors string `yaml:"descriptors"`
	// Reflection fetches the schema from the server's reflection service
	// when the route is built (at start, and at each reload that changes
	// the route).
	Reflection bool `yaml:"reflection"`
	// AllowUnknownFields accepts JSON fields the request message does not
	// have (ignored). Default false: 400.
	AllowUnknownFields bool `yaml:"allow_unknown_fields"`
	// EmitDefaults writes fields that hold their zero value in the JSON
	// answer. Default false.
	EmitDefaults bool `yaml:"emit_defaults"`
	// UseProtoNames writes the .proto field names (user_id) instead of
	// lowerCamelCase JSON names (userId). Default false.
	UseProtoNames bool `yaml:"use_proto_names"`
	// Metadata lists request headers passed on as gRPC metadata, besides
	// X-Request-Id, traceparent and tracestate, which always are.
	// Default: none.
	Metadata []string `yaml:"metadata"`
	// ResponseMetadata lists response header and trailer metadata keys
	// returned as HTTP headers. Default: none.
	ResponseMetadata []string `yaml:"response_metadata"`
	// Timeout is the call's deadline; past it the client gets 504.
	// Default 30s.
	Timeout time.Duration `yaml:"timeout" range:"1ms,1h"`
	// TLS dials the target over TLS. Default: absent, plaintext.
	TLS *UpstreamTLS `yaml:"tls"`

	// descriptorSet is the content of Descriptors, read by Load, so that
	// a reload sees a changed file.
	descriptorSet []byte
}

// DescriptorSet returns the content of the Descriptors file as read when
// the configuration loaded; nil with reflection. Read-only.
func (g *GRPC) DescriptorSet() []byte { return g.descriptorSet }

// The prefixes of a gRPC target that names a discovered service.
const (
	grpcDiscoveryConsul = "consul://"
	grpcDiscoveryEtcd   = "etcd://"
)

func grpcDefaults(g *GRPC) {
	zeroDefault(&g.Timeout, defaultTimeout)
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
		path := v.resolve(g.Descriptors)
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
	if g.TLS != nil {
		v.upstreamTLS(g.TLS, p+".tls")
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
