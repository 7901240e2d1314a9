package gateway

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/fastgate/gateway/cache"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/discovery"
	"github.com/fastgate/gateway/metrics"
)

// deps is what compiled routes draw on that outlives one configuration:
// metrics, shared upstream pools, shared rate-limit buckets and the Redis
// client. One per gateway.
type deps struct {
	metrics  *metrics.Metrics
	clients  *clients
	limiters limiters
	// keys are the JWT providers' key sources, shared by routes.
	keys    keySources
	brokers *brokers
	// grpc builds grpc routes' backends; nil when the gateway has none.
	grpc GRPCFactory
	// grpcCheck checks grpc routes when check is set; nil: not at all.
	grpcCheck GRPCCheck
	// registry follows the services upstreams name; nil when no source
	// was configured at start.
	registry *discovery.Registry
	// instances is the live count of the fleet's instances, 0 while
	// unknown; nil without self-registration.
	instances func() int
	// check is set when compiling only to report errors: registries are
	// not asked.
	check bool
	// notes are what a check could not verify offline, one per line.
	notes []string
	log   *slog.Logger
	// traced: the gateway exports spans, so routes' steps record their
	// own under each sampled request's span.
	traced bool
	// tunnels registers the open WebSocket tunnels; nil when only
	// checking a configuration.
	tunnels *tunnels
	// checked is the route table that Gateway.RouteConflicts compiled
	// last, for the build of the same routes to take (checkedTable).
	checked atomic.Pointer[checkedTable]

	// cache holds the routes' fallback copies; made by the first route
	// with fallback.cache (cacheFor).
	cacheMu sync.Mutex
	cache   *cache.Memory
	// shared is cache in front of Redis, for routes whose copies every
	// instance shares; made by the first such route.
	shared *cache.Tiered

	redisMu  sync.Mutex
	redis    redis.UniversalClient
	redisCfg config.Redis
}

// close releases the connections deps opened itself.
func (d *deps) close() {
	d.cacheMu.Lock()
	if d.shared != nil {
		_ = d.shared.Close()
		d.shared = nil
	}
	d.cacheMu.Unlock()
	if d.registry != nil {
		_ = d.registry.Close()
	}
	d.redisMu.Lock()
	defer d.redisMu.Unlock()
	if d.redis != nil {
		_ = d.redis.Close()
		d.redis = nil
	}
}

// redisChanged reports whether cfg asks for other Redis settings than the
// client in use was made with.
func (d *deps) redisChanged(c *config.Redis) bool {
	d.redisMu.Lock()
	defer d.redisMu.Unlock()
	return d.redis != nil && c != nil && *c != d.redisCfg
}
