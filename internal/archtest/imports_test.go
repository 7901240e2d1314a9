package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"path"
	"strings"
	"testing"
)

const module = "github.com/fastgate/gateway"

// allowed lists, per package, the non-standard-library imports it may
// have: module-internal packages by their path below the module, external
// ones by module prefix.
var allowed = map[string][]string{
	"router":                  {},
	"discovery":               {},
	"discovery/consul":        {"discovery", "github.com/hashicorp/consul/api"},
	"discovery/discoverytest": {"discovery"},
	"discovery/etcd":          {"discovery", "go.etcd.io/etcd", "go.uber.org/zap", "google.golang.org/grpc"},
	"config":                  {"config/yamlcodec", "go.yaml.in/yaml/v3"},
	// The generic YAML codec under config knows no schema: yaml only.
	"config/yamlcodec": {"go.yaml.in/yaml/v3"},
	"metrics":          {"github.com/prometheus/client_golang"},
	"reloader":         {"config", "github.com/fsnotify/fsnotify"},
	"upstream":         {"github.com/valyala/fasthttp", "internal/deadlines"},
	"gateway":          {"config", "router", "discovery", "metrics", "upstream", "internal/httpx", "internal/deadlines", "bridge/broker", "accesslog", "tracing", "github.com/valyala/fasthttp", "github.com/prometheus/client_golang", "reloader", "ratelimit", "breaker", "cache", "auth", "certs", "compress", "github.com/redis/go-redis/v9"},
	// cmd/gateway names the concrete adapters, and routes the loggers of
	// the libraries that keep a process-wide one (go-redis, grpc-go,
	// amqp091) into the gateway's slog handler.
	"cmd/gateway":                {"config", "configsource", "gateway", "reloader", "router", "discovery", "registration", "bridge", "auth/apikey", "certs", "github.com/valyala/fasthttp", "github.com/redis/go-redis/v9", "google.golang.org/grpc", "github.com/rabbitmq/amqp091-go"},
	"cmd/demo-upstream":          {"github.com/valyala/fasthttp"},
	"cmd/bare-proxy":             {"github.com/valyala/fasthttp"},
	"cmd/demo-grpc":              {"bridge/grpcbridge/grpctest"},
	"cmd/demo-token":             {"github.com/go-jose/go-jose/v4"},
	"cmd/demo-setup":             {"github.com/nats-io/nats.go", "github.com/rabbitmq/amqp091-go", "github.com/redis/go-redis/v9", "github.com/twmb/franz-go"},
	"internal/httpx":             {"upstream", "github.com/valyala/fasthttp"}, // upstream: its one hop-by-hop list
	"internal/deadlines":         {},
	"internal/tour":              {},
	"internal/archtest":          {},
	"internal/configdoc":         {},
	"configsource":               {"config", "metrics", "reloader"},                                                      // config sources: versions, the copy on disk, following a pointer
	"configsource/consul":        {"config", "configsource", "discovery", "reloader", "github.com/hashicorp/consul/api"}, // discovery/consul: its client's transport and index rules
	"internal/consultest":        {},
	"configsource/sourcetest":    {"config", "configsource", "reloader"},
	"configsource/etcd":          {"config", "configsource", "discovery", "metrics", "reloader", "go.etcd.io/etcd", "go.uber.org/zap", "google.golang.org/grpc"}, // discovery: its backoff, and discovery/etcd's watch with progress notices
	"breaker":                    {"github.com/sony/gobreaker/v2"},
	"cache":                      {"github.com/maypok86/otter/v2", "github.com/redis/go-redis/v9"},
	"ratelimit":                  {"golang.org/x/time/rate", "github.com/redis/go-redis/v9"},
	"tracing":                    {"go.opentelemetry.io/otel"},
	"compress":                   {"github.com/klauspost/compress", "github.com/molecule-man/go-brrr"},
	"accesslog":                  {},
	"certs":                      {},
	"certs/certstest":            {},
	"certs/acme":                 {"certs", "github.com/caddyserver/certmagic", "github.com/redis/go-redis/v9", "go.uber.org/zap"},
	"bridge/broker":              {},
	"bridge/broker/nats":         {"bridge/broker", "github.com/nats-io/nats.go"},
	"bridge/broker/amqp":         {"bridge/broker", "github.com/rabbitmq/amqp091-go"},
	"bridge/broker/kafka":        {"bridge/broker", "github.com/twmb/franz-go"},
	"bridge/broker/redis":        {"bridge/broker", "github.com/redis/go-redis/v9"},
	"bridge/broker/brokertest":   {"bridge/broker"},
	"bridge/grpcbridge":          {"google.golang.org/grpc", "google.golang.org/protobuf", "google.golang.org/genproto"},
	"internal/testserver":        {},
	"internal/testwait":          {},
	"internal/logtest":           {},
	"internal/etcdtest":          {"go.etcd.io/etcd", "go.uber.org/zap"},
	"internal/pebbletest":        {"certs/certstest", "golang.org/x/net/dns/dnsmessage"},
	"tracing/tracingtest":        {"go.opentelemetry.io/proto/otlp", "google.golang.org/protobuf"},
	"bridge/grpcbridge/grpctest": {"bridge/grpcbridge", "google.golang.org/grpc", "google.golang.org/protobuf", "google.golang.org/genproto"},
	// auth is the access-control family: the root holds what its methods
	// share, each sub-package one method; none imports gateway or config.
	"auth":                   {"github.com/valyala/fasthttp"},
	"auth/internal/ttlcache": {},
	"auth/jwt/jwks":          {},
	"auth/apikey":            {"auth"},
	"auth/basic":             {"auth", "auth/internal/ttlcache", "golang.org/x/crypto/bcrypt"},
	"auth/cors":              {"github.com/valyala/fasthttp"},
	"auth/forward":           {"auth/internal/ttlcache", "github.com/valyala/fasthttp"},
	"auth/iplist":            {},
	"auth/jwt":               {"auth", "auth/jwt/jwks", "auth/internal/ttlcache", "github.com/golang-jwt/jwt/v5"},
	"auth/jwt/jwttest":       {"github.com/go-jose/go-jose/v4"}, // tokens for tests, signed by another library than auth/jwt's
	// deploy is the Kubernetes manifests; only its tests have imports (see
	// TestKubernetesOutOfTheBinary).
	"deploy": {},
	// registration: this instance in Consul or etcd, and the live count
	// of the fleet; discovery only for its backoff.
	"registration": {"discovery", "github.com/hashicorp/consul/api", "go.etcd.io/etcd", "go.uber.org/zap", "google.golang.org/grpc"},
}

type pkg struct {
	ImportPath string
	Name       string
	Imports    []string
	Standard   bool
}

func TestImportDirections(t *testing.T) {
	// -pgo=off: with cmd/gateway's default.pgo, go list names the
	// profile-guided copy of each package "path [cmd/gateway]".
	out, err := exec.Command("go", "list", "-pgo=off", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		// A package is named as its directory, so that its call sites
		// read as its path says.
		if p.Name != "main" && p.Name != path.Base(p.ImportPath) {
			t.Errorf("package %s declares package %s: rename one so that they agree", rel, p.Name)
		}
		rules, ok := allowed[rel]
		if !ok {
			t.Errorf("package %s has no import rule: add it to allowed", rel)
			continue
		}
		for _, imp := range p.Imports {
			if isStd(imp) {
				continue
			}
			if !permitted(imp, rules) {
				t.Errorf("%s imports %s, which docs/design.md does not allow", rel, imp)
			}
		}
	}
	if seen < 9 {
		t.Errorf("go list saw %d packages, want at least the 9 of the core", seen)
	}
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func permitted(imp string, rules []string) bool {
	for _, r := range rules {
		if strings.Contains(r, ".") { // an external module
			if imp == r || strings.HasPrefix(imp, r+"/") {
				return true
			}
			continue
		}
		if imp == module+"/"+r || strings.HasPrefix(imp, module+"/"+r+"/") {
			return true
		}
	}
	return false
}
