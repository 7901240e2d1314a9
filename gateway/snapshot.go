package gateway

import (
	"log/slog"
	"reflect"
	"slices"

	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/internal/httpx"
	"github.com/fastgate/gateway/metrics"
	"github.com/fastgate/gateway/router"
)

// snapshot is everything compiled from one configuration. Immutable once
// published; requests hold the one they started with until they finish.
type snapshot struct {
	cfg *config.Config
	// hash is cfg.Hash(), computed once: it walks the whole config.
	hash string
	// keys are the routeKey of each route of cfg, by name, computed
	// once: the next reload compares its own with them.
	keys    routeKeys
	table   *router.Table
	routes  []*route
	trusted *httpx.TrustedProxies
	// brokers are the connections of the declared brokers, held while
	// the snapshot serves.
	brokers []*brokerConn
	// obs is the access log and tracer of the requests the snapshot
	// serves.
	obs *observer
	// pending lists the settings of the loaded file that wait for a
	// restart; cfg holds their running values.
	pending []string
}

// buildSnapshot compiles cfg. Routes of prev whose settings did not change
// are carried over as they are, with their state (connection pools, and
// the buckets, breakers and caches of later steps); the rest are built
// fresh. On error nothing new is left open and prev is untouched.
//
// sum is cfg's hash and route keys, worked out here when zero.
func buildSnapshot(cfg *config.Config, d *deps, prev *snapshot, obs *observer, sum summary) (_ *snapshot, err error) {
	trusted, err := httpx.NewTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	if sum.keys == nil {
		sum = summaryOf(cfg)
	}
	keys := sum.keys
	s := &snapshot{cfg: cfg, hash: sum.hash, keys: keys, trusted: trusted, obs: obs}
	// The steps record spans of their own when spans are exported; a
	// reload that turns the export on or off builds every route again.
	d.traced = obs.tracer != nil
	if prev != nil && (prev.obs.tracer != nil) != d.traced {
		prev = nil
	}
	if !d.check {
		if s.brokers, err = d.brokers.acquireAll(cfg); err != nil {
			return nil, err
		}
	}
	var old map[string]*route
	if prev != nil {
		old = make(map[string]*route, len(prev.routes))
		for _, rt := range prev.routes {
			old[rt.name] = rt
		}
	}
	defer func() {
		if err != nil {
			s.closeExcept(prev, d)
			d.brokers.releaseAll(s.brokers)
		}
	}()

	rules := make([]router.Rule, len(cfg.Routes))
	var errs []error
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		rules[i] = router.Rule{
			ID:         i,
			Host:       rc.Match.Host,
			Methods:    rc.Match.Methods,
			Path:       rc.Match.Path,
			PathPrefix: rc.Match.PathPrefix,
		}
		// An unchanged route (routeKey) is carried over with its state.
		if rt := old[rc.Name]; rt != nil && !reflected(rc) && prev.keys[rc.Name] == keys[rc.Name] {
			s.routes = append(s.routes, rt)
			continue
		}
		rt, err := d.buildRoute(rc, cfg, trusted)
		if err != nil {
			errs = append(errs, cfgError(cfg, "routes["+strconv.Itoa(i)+"]", err))
			continue
		}
		s.routes = append(s.routes, rt)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if s.table = d.tableFor(cfg.Routes); s.table != nil {
		return s, nil // compiled by the check of the same routes
	}
	table, err := router.Compile(rules)
	if err != nil {
		var conflict *router.ConflictError
		var bad *router.RuleError
		for _, e := range unjoin(err) {
			if errors.As(e, &bad) {
				errs = append(errs, cfgError(cfg, "routes["+strconv.Itoa(bad.ID)+"].match", errors.New(bad.Reason)))
				continue
			}
			if errors.As(e, &conflict) {
				field := "routes[" + strconv.Itoa(conflict.B) + "]"
				errs = append(errs, cfgError(cfg, field, fmt.Errorf("conflicts with %s: %s",
					cfg.RouteRef(conflict.A, conflict.B), conflict.Reason)))
				continue
			}
			errs = append(errs, e)
		}
		return nil, errors.Join(errs...)
	}
	s.table = table
	return s, nil
}

// close releases what the snapshot and its routes hold.
func (s *snapshot) close(d *deps) {
	for _, rt := range s.routes {
		rt.close()
	}
	d.brokers.releaseAll(s.brokers)
}

// closeExcept closes the routes of s that prev does not also hold.
func (s *snapshot) closeExcept(prev *snapshot, d *deps) {
	held := prev.routeSet()
	for _, rt := range s.routes {
		if !held[rt] {
			rt.close()
		}
	}
}

// reflected reports whether rc takes its gRPC schema from server
// reflection: such a route is built again at every reload, which fetches
// the schema again (its connection is kept).
func reflected(rc *config.Route) bool { return rc.GRPC != nil && rc.GRPC.Reflection }

// routeSet returns s's routes as a set; nil for a nil snapshot.
func (s *snapshot) routeSet() map[*route]bool {
	if s == nil {
		return nil
	}
	set := make(map[*route]bool, len(s.routes))
	for _, rt := range s.routes {
		set[rt] = true
	}
	return set
}

// routeKeys are the routeKey of each route of a configuration, by name.
type routeKeys map[string]string

// summary is a configuration's Hash and route keys, which a reload works
// out once, for its report and for the snapshot it builds.
type summary struct {
	hash string
	keys routeKeys
}

// summaryOf works out cfg's summary.
func summaryOf(cfg *config.Config) summary {
	hash, digests := cfg.Digests()
	return summary{hash: hash, keys: keysSince(cfg, digests, nil, nil)}
}

// keysOf returns the route keys of cfg.
func keysOf(cfg *config.Config) routeKeys {
	_, digests := cfg.Digests()
	return keysSince(cfg, digests, nil, nil)
}

// keysSince returns the route keys of cfg, taking from prevKeys, the keys
// of prev, those of the routes that cfg has unchanged from prev
// (config.Config.UnchangedRoutes) when the top-level settings that
// routeKey takes are the same too: a reload of many routes where one
// file changed works out the keys of that file's routes only.
//
// digests are cfg's route digests (config.Config.Digests).
func keysSince(cfg *config.Config, digests []config.RouteDigest, prev *config.Config, prevKeys routeKeys) routeKeys {
	keys := make(routeKeys, len(cfg.Routes))
	top := topKey(cfg)
	var same []int
	if prev != nil && prevKeys != nil && cfg.Server.MaxBodySize == prev.Server.MaxBodySize &&
		slices.Equal(cfg.TrustedProxies, prev.TrustedProxies) {
		same = cfg.UnchangedRoutes(prev)
	}
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		if key, ok := keptKey(rc, cfg, prev, same, i, prevKeys); ok {
			keys[rc.Name] = key
			continue
		}
		keys[rc.Name] = routeKeyWith(rc, cfg, digests[i], top)
	}
	return keys
}

// keptKey returns the key of Routes[i] of cfg from prevKeys when it is
// route same[i] of prev, and routeKey would find it the same: its
// broker's settings unchanged, no TLS files (read afresh for each key).
func keptKey(rc *config.Route, cfg, prev *config.Config, same []int, i int, prevKeys routeKeys) (string, bool) {
	if same == nil || same[i] < 0 || upstreamTLSOf(rc) != nil || grpcTLSOf(rc) != nil {
		return "", false
	}
	if rc.Publish != nil && !reflect.DeepEqual(publishedTo(rc, cfg), publishedTo(&prev.Routes[same[i]], prev)) {
		return "", false
	}
	key, ok := prevKeys[rc.Name]
	return key, ok && prev.Routes[same[i]].Name == rc.Name
}

// routeKey identifies everything a compiled route depends on: its own
// settings (digest, its config.RouteDigest; the content of its body files
// included) and the top-level ones built into it. It is the one
// definition of an unchanged route: a reload carries over a route whose
// key is the same and reports it unchanged, and gateway validate -diff
// compares keys by digest. A change to a setting that routeChanges names
// changes the key.
func routeKey(rc *config.Route, cfg *config.Config, digest config.RouteDigest) string {
	return routeKeyWith(rc, cfg, digest, topKey(cfg))
}

// topKey is what the key of every route of cfg takes of its top-level
// settings (but a published route's broker).
func topKey(cfg *config.Config) []byte {
	top := struct {
		MaxBody config.ByteSize
		Trusted []string
	}{MaxBody: cfg.Server.MaxBodySize, Trusted: cfg.TrustedProxies}
	if len(top.Trusted) == 0 {
		top.Trusted = nil
	}
	b, _ := json.Marshal(top) // plain data: cannot fail
	return b
}

// routeKeyWith is routeKey with top, cfg's topKey: the parts of the key,
// each of fixed size or with its length before it.
func routeKeyWith(rc *config.Route, cfg *config.Config, digest config.RouteDigest, top []byte) string {
	h := sha256.New()
	h.Write(digest[:])
	var bodies [2][sha256.Size]byte
	if rc.Respond != nil {
		bodies[0] = sha256.Sum256(rc.Respond.Content())
	}
	if f := rc.Fallback; f != nil && f.Static != nil {
		bodies[1] = sha256.Sum256(f.Static.Content())
	}
	h.Write(bodies[0][:])
	h.Write(bodies[1][:])
	part := func(b []byte) {
		h.Write(strconv.AppendInt(nil, int64(len(b)), 10))
		h.Write([]byte{':'})
		h.Write(b)
	}
	part(top)
	var broker []byte
	if b := publishedTo(rc, cfg); b != nil {
		broker, _ = json.Marshal(b) // plain data: cannot fail
	}
	part(broker)
	var tls [2]string // the content of the upstream's TLS files
	if t := upstreamTLSOf(rc); t != nil {
		tls[0] = t.Digest()
	}
	if t := grpcTLSOf(rc); t != nil {
		tls[1] = t.Digest()
	}
	part([]byte(tls[0]))
	part([]byte(tls[1]))
	return hex.EncodeToString(h.Sum(nil))
}

// routeChanges names what makes route next differ from route old (of the
// configurations oldCfg and nextCfg): its own fields by their key, and
// the top-level settings built into it, as routeKey takes them.
func routeChanges(old, next *config.Route, oldCfg, nextCfg *config.Config) []string {
	out := changedFields(old, next)
	if oldCfg.Server.MaxBodySize != nextCfg.Server.MaxBodySize {
		out = append(out, "server.max_body_size")
	}
	if !slices.Equal(oldCfg.TrustedProxies, nextCfg.TrustedProxies) {
		out = append(out, "trusted_proxies")
	}
	if next.Publish != nil && !reflect.DeepEqual(publishedTo(old, oldCfg), publishedTo(next, nextCfg)) {
		out = append(out, "brokers."+next.Publish.Broker)
	}
	return out
}

// publishedTo returns the connection settings of the broker rc publishes
// to (Required, which only readiness reads, left out); nil for none.
func publishedTo(rc *config.Route, cfg *config.Config) *config.Broker {
	if rc.Publish == nil || cfg.Brokers[rc.Publish.Broker] == nil {
		return nil
	}
	b := *cfg.Brokers[rc.Publish.Broker]
	b.Required = false
	return &b
}

// cfgError prefixes err with the file, line and column of field.
func cfgError(cfg *config.Config, field string, err error) error {
	if file, line, col, ok := cfg.PositionOf(field); ok {
		return fmt.Errorf("%s:%d:%d: %s: %w", file, line, col, cfg.LocalField(field), err)
	}
	return fmt.Errorf("%s: %s: %w", cfg.File(), field, err)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Check compiles cfg the way New would, reporting what config validation
// alone cannot see (route conflicts), and releases everything again.
func Check(cfg *config.Config) error {
	_, err := CheckWith(cfg, CheckOptions{})
	return err
}

// CheckOptions are the checks of the adapters cmd/gateway names.
type CheckOptions struct {
	// GRPC checks grpc routes offline. Nil: as configuration only.
	GRPC GRPCCheck
}

// CheckWith is Check with the adapters' checks of opts. It also returns
// notes, one line each, on what could not be checked offline.
func CheckWith(cfg *config.Config, opts CheckOptions) (notes []string, err error) {
	d := &deps{metrics: metrics.New(prometheus.NewRegistry(), metrics.Build{Version: "check"}), clients: &clients{}, log: slog.New(slog.DiscardHandler), check: true, brokers: &brokers{},
		grpcCheck: opts.GRPC}
	defer d.close()
	s, err := buildSnapshot(cfg, d, nil, &observer{}, summary{})
	if err != nil {
		return d.notes, err
	}
	s.close(d)
	return d.notes, nil
}
