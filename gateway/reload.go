package gateway

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fastgate/gateway/config"
)

// ReloadResult says what a reload did, or would do when DryRun is set.
type ReloadResult struct {
	// Applied is true when the new configuration now serves.
	Applied bool `json:"applied"`
	// DryRun is true when nothing was applied on purpose.
	DryRun bool `json:"dry_run,omitempty"`
	// Hash identifies the configuration that serves (or would): the one
	// loaded, with restart-only settings at their running values.
	Hash string `json:"hash,omitempty"`
	// Added, Removed and Changed list route names; Changed maps each
	// changed route to the settings that differ.
	Added     []string            `json:"added,omitempty"`
	Removed   []string            `json:"removed,omitempty"`
	Changed   map[string][]string `json:"changed,omitempty"`
	Unchanged int                 `json:"unchanged"`
	// Settings lists top-level settings that changed and take effect now.
	Settings []string `json:"settings,omitempty"`
	// RestartNeeded lists settings that changed but keep their old value
	// until the process restarts: those tagged reload:"restart" in the
	// config types, and redis once its client is in use.
	RestartNeeded []string `json:"restart_needed,omitempty"`
	// Errors lists every problem of a configuration that was refused.
	Errors []string `json:"errors,omitempty"`
	// Notes lists what a dry run could not check without applying (the
	// schema of a gRPC route that comes by reflection).
	Notes []string `json:"notes,omitempty"`
}

// Summary is the result on one line, as the reload log prints it.
func (r ReloadResult) Summary() string {
	var b strings.Builder
	b.WriteString("added=")
	b.WriteString(strings.Join(r.Added, ","))
	b.WriteString(" removed=")
	b.WriteString(strings.Join(r.Removed, ","))
	b.WriteString(" changed=")
	b.WriteString(strings.Join(slices.Sorted(maps.Keys(r.Changed)), ","))
	return b.String()
}

// reloadState serializes reloads and keeps the routes that left service
// until no request can still be on them.
type reloadState struct {
	mu       sync.Mutex
	retiring map[*route]*time.Timer
	closed   bool
}

// Apply makes cfg the serving configuration: it is compiled beside the
// current one, routes whose settings did not change are carried over with
// their state, and one pointer swap makes it serve. Requests in flight
// finish on the configuration they started with; routes that left are
// closed once their last request is done. Restart-only settings keep
// their running values (cfg.InEffect). On error nothing changes.
func (g *Gateway) Apply(cfg *config.Config) (ReloadResult, error) {
	g.reload.mu.Lock()
	defer g.reload.mu.Unlock()
	if g.reload.closed {
		return ReloadResult{}, errors.New("gateway: shut down")
	}
	old := g.current.Load()
	res, eff, sum := g.plan(old, cfg)
	certs, err := g.edge.prepare(eff) // a bad certificate refuses it all
	var obs *observer
	var freshObs bool
	if err == nil {
		obs, freshObs, err = g.observers.build(eff, old.cfg, old.obs)
	}
	if err == nil {
		var next *snapshot
		if next, err = buildSnapshot(eff, g.deps, old, obs, sum); err == nil {
			g.edge.commit(certs)
			warnInsecureUpstreams(eff, g.log)
			return g.swap(old, next, res, freshObs), nil
		}
		if freshObs {
			g.observers.close(obs)
		}
	}
	g.metrics.ConfigRejected()
	res.Errors = errorLines(err)
	return res, err
}

// swap makes next serve in old's place and retires what old held that
// next does not: its routes, its brokers and, when next has a fresh one,
// its observer.
func (g *Gateway) swap(old, next *snapshot, res ReloadResult, freshObs bool) ReloadResult {
	res.Hash = next.hash
	next.pending = res.RestartNeeded
	g.current.Store(next)
	res.Applied = true
	g.metrics.ConfigApplied(float64(time.Now().Unix()), res.Hash)
	names := make(map[string]bool, len(next.routes)+1)
	names[""] = true
	for _, rt := range next.routes {
		names[rt.name] = true
	}
	g.metrics.Forget(func(name string) bool { return names[name] })
	kept := next.routeSet()
	var drain time.Duration
	for _, rt := range old.routes {
		drain = max(drain, rt.drainTime())
		if !kept[rt] {
			g.retire(rt)
		}
	}
	// The routes that still publish hold their brokers themselves.
	g.deps.brokers.releaseAll(old.brokers)
	if freshObs {
		// The longest a request that started on old may still run.
		g.observers.retire(old.obs, drain)
	}
	return res
}

// Preview checks cfg as Apply would and says what applying it would
// change, without changing anything.
func (g *Gateway) Preview(cfg *config.Config) (ReloadResult, error) {
	res, _, sum := g.plan(g.current.Load(), cfg)
	res.DryRun = true
	res.Hash = sum.hash
	notes, err := CheckWith(cfg, CheckOptions{GRPC: g.deps.grpcCheck})
	res.Notes = notes
	if err != nil {
		res.Errors = errorLines(err)
		return res, err
	}
	return res, nil
}

// Rejected records a configuration that failed to load before it could
// be applied (a syntax or validation error).
func (g *Gateway) Rejected() { g.metrics.ConfigRejected() }

// unchanged records a reload that found the configuration it already
// serves. That is a successful reload: after a broken file is reverted,
// the last-success timestamp must move past the failure, or the
// reload-failing alert keeps firing while the file on disk is valid.
func (g *Gateway) unchanged(hash string) {
	g.metrics.ConfigApplied(float64(time.Now().Unix()), hash)
}

// retire closes rt once every request that may have started on it is
// done. The caller holds g.reload.mu.
func (g *Gateway) retire(rt *route) {
	g.deps.tunnels.retire(rt)
	if g.reload.retiring == nil {
		g.reload.retiring = make(map[*route]*time.Timer)
	}
	g.reload.retiring[rt] = time.AfterFunc(rt.drainTime(), func() {
		g.reload.mu.Lock()
		_, pending := g.reload.retiring[rt]
		delete(g.reload.retiring, rt)
		g.reload.mu.Unlock()
		if pending {
			rt.close()
		}
	})
}

// closeRetiring closes, at once, every route still waiting to retire.
func (g *Gateway) closeRetiring() {
	g.reload.mu.Lock()
	g.reload.closed = true
	pending := g.reload.retiring
	g.reload.retiring = nil
	g.reload.mu.Unlock()
	for rt, t := range pending {
		t.Stop()
		rt.close()
	}
}

// plan compares the serving configuration old with next (diffConfigs)
// and returns the configuration that would serve: next with the running
// values of the settings that need a restart, so that the snapshot's
// configuration, its hash and /-/config are the ones in effect. Besides
// the tagged settings, a Redis client already in use keeps its settings.
//
// It also returns the hash and route keys of that configuration, worked
// out once for the report and the build: the serving snapshot keeps its
// own, and the keys of routes the reload kept unchanged come from there
// (keysSince).
func (g *Gateway) plan(old *snapshot, next *config.Config) (ReloadResult, *config.Config, summary) {
	var keep []string
	redis := g.deps.redisChanged(next.Redis)
	if redis {
		keep = append(keep, "redis")
	}
	eff, _ := next.InEffect(old.cfg, keep...)
	hash, digests := eff.Digests()
	keys := keysSince(eff, digests, old.cfg, old.keys)
	res := diffConfigs(old.cfg, next, old.keys, keys)
	if redis {
		if i := slices.Index(res.Settings, "redis"); i >= 0 {
			res.Settings = slices.Delete(res.Settings, i, i+1)
		}
		res.RestartNeeded = append(res.RestartNeeded, "redis")
	}
	return res, eff, summary{hash: hash, keys: keys}
}

// diffConfigs compares two configurations route by route, and their
// top-level settings as their reload tags say (config.Changes). oldKeys
// and nextKeys are their route keys (keysOf), worked out here when nil.
func diffConfigs(old, next *config.Config, oldKeys, nextKeys routeKeys) ReloadResult {
	if oldKeys == nil {
		oldKeys = keysOf(old)
	}
	if nextKeys == nil {
		nextKeys = keysOf(next)
	}
	res := ReloadResult{Changed: map[string][]string{}}
	before := make(map[string]*config.Route, len(old.Routes))
	for i := range old.Routes {
		before[old.Routes[i].Name] = &old.Routes[i]
	}
	seen := make(map[string]bool, len(next.Routes))
	for i := range next.Routes {
		r := &next.Routes[i]
		seen[r.Name] = true
		o, ok := before[r.Name]
		switch {
		case !ok:
			res.Added = append(res.Added, r.Name)
		case oldKeys[o.Name] == nextKeys[r.Name]:
			res.Unchanged++
		default:
			res.Changed[r.Name] = routeChanges(o, r, old, next)
		}
	}
	for _, r := range old.Routes {
		if !seen[r.Name] {
			res.Removed = append(res.Removed, r.Name)
		}
	}
	res.Settings, res.RestartNeeded = config.Changes(old, next)
	if len(res.Changed) == 0 {
		res.Changed = nil
	}
	return res
}

// changedFields names the fields (by their YAML key) that differ between
// two values of the same struct type.
func changedFields[T any](a, b *T) []string {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	var out []string
	for i := 0; i < va.NumField(); i++ {
		f := va.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			out = append(out, name)
		}
	}
	return out
}

// errorLines splits a (joined) error into one line per problem.
func errorLines(err error) []string {
	return strings.Split(err.Error(), "\n")
}

// String returns the result as JSON.
func (r ReloadResult) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// Digest identifies a configuration's parts, so that a configuration file
// can be compared with what a gateway serves without sending secrets
// either way (gateway validate --diff).
type Digest struct {
	Hash   string            `json:"hash"`
	Listen string            `json:"listen"`
	Admin  string            `json:"admin"`
	Routes map[string]string `json:"routes"`
}

// DigestOf returns the digest of cfg.
func DigestOf(cfg *config.Config) Digest {
	sum := summaryOf(cfg)
	return Digest{Hash: sum.hash, Listen: cfg.Listen, Admin: cfg.Admin, Routes: sum.keys}
}

// DiffDigests lists what changes from a gateway serving from to one
// serving to, route by route, as lines a person reads.
func DiffDigests(from, to Digest) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(to.Routes)) {
		old, ok := from.Routes[name]
		switch {
		case !ok:
			out = append(out, "+ route "+name+" (added)")
		case old != to.Routes[name]:
			out = append(out, "~ route "+name+" (changed)")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(from.Routes)) {
		if _, ok := to.Routes[name]; !ok {
			out = append(out, "- route "+name+" (removed)")
		}
	}
	if from.Listen != to.Listen {
		out = append(out, "! listen "+from.Listen+" -> "+to.Listen+" (needs a restart)")
	}
	if from.Admin != to.Admin {
		out = append(out, "! admin "+from.Admin+" -> "+to.Admin+" (needs a restart)")
	}
	return out
}
