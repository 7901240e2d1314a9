package gateway

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fastgate/gateway/cache"
	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/internal/httpx"
	"github.com/fastgate/gateway/metrics"
)

// fallbackRefresh is how long a stored copy is kept before the next good
// answer replaces it: a busy route does not copy every response.
const fallbackRefresh = time.Second

// entryHeadroom is what a stored entry may take beyond its body: key,
// headers and the cache's own overhead.
const entryHeadroom = 16 << 10

// maxStackVary is how many vary headers a key is built with without a
// heap allocation.
const maxStackVary = 8

// Header names the fallback sets.
const (
	hdrFallback = "X-Fallback"
	hdrAge      = "Age"
)

// The values of X-Fallback: which step of the chain answered.
const (
	fallbackCache    = "cache"
	fallbackUpstream = "upstream"
	fallbackStatic   = "static"
)

// markFallback says on the answer, and to the access log, which step of
// the fallback chain answered.
func markFallback(ctx *fasthttp.RequestCtx, step string) {
	ctx.Response.Header.Set(hdrFallback, step)
	if ri := requestInfo(ctx); ri != nil {
		ri.fallback = step
	}
}

// fallback is a route's compiled fallback chain: a cached copy, then the
// alternate upstream, then a static answer, then the plain error.
// Immutable after build; close gives back the alternate's connections.
type fallback struct {
	methods [][]byte
	cache   *routeCache // nil without fallback.cache
	// alt forwards to the alternate upstream; nil without
	// fallback.upstream.
	alt *proxyStep
	// respHeaders are the route's response header rules, applied to the
	// alternate's answer as to the upstream's.
	respHeaders headerOps
	static      *staticAnswer
	metrics     *metrics.Route
	// statuses are the upstream statuses of fallback.on_status, by bit
	// (status-400); zero for none.
	statuses [4]uint64
}

// routeCache is a route's share of the gateway-wide fallback cache.
type routeCache struct {
	// store is the gateway's memory cache, or memory in front of Redis
	// for routes with store: redis.
	store    cache.Store
	policy   cache.Policy
	maxStale time.Duration
	maxEntry int
	vary     [][]byte
	marker   []byte
	markerV  []byte
	// recent remembers which keys were stored within the last
	// fallbackRefresh, so that most requests of a busy route skip asking
	// the cache.
	recent recentStores
}

// recentStores is a small direct-mapped table of recently stored keys,
// by hash. A slot read while another request writes it may pair one
// key's hash with another's time: the worst outcome is a copy refreshed up
// to fallbackRefresh late, or asked about once more.
type recentStores struct {
	seed  maphash.Seed
	slots [256]recentSlot
}

type recentSlot struct {
	hash atomic.Uint64
	at   atomic.Int64 // Unix nanoseconds of the store
}

func (r *recentStores) slot(key []byte) (*recentSlot, uint64) {
	h := maphash.Bytes(r.seed, key)
	return &r.slots[h%uint64(len(r.slots))], h
}

// fresh reports whether key (of hash h) was stored less than
// fallbackRefresh before now.
func (s *recentSlot) fresh(h uint64, now time.Time) bool {
	return s.hash.Load() == h && now.UnixNano()-s.at.Load() < int64(fallbackRefresh)
}

func (s *recentSlot) stored(h uint64, now time.Time) {
	s.at.Store(now.UnixNano())
	s.hash.Store(h)
}

func (d *deps) newFallback(b *routeBuild) (*fallback, error) {
	rc, cfg := b.rc, b.cfg
	m := b.rt.metrics
	c := rc.Fallback
	f := &fallback{metrics: m, respHeaders: newHeaderOps(rc.ResponseHeaders.Set, rc.ResponseHeaders.Remove)}
	for _, meth := range c.Methods {
		f.methods = append(f.methods, []byte(meth))
	}
	if c.Static != nil {
		f.static = newStaticAnswer(c.Static)
	}
	for _, st := range c.OnStatus {
		f.statuses[(st-400)/64] |= 1 << ((st - 400) % 64)
	}
	if c.Upstream != nil {
		alt, err := newProxyStep(b, c.Upstream)
		if err != nil {
			return nil, fmt.Errorf("upstream: %w", err)
		}
		f.alt = alt
	}
	if cc := c.Cache; cc != nil {
		var store cache.Store
		mem, err := d.cacheFor(cfg)
		if err != nil {
			return nil, err
		}
		store = mem
		if cc.Store == config.StoreRedis {
			if store, err = d.sharedCacheFor(cfg, mem); err != nil {
				return nil, err
			}
		}
		rc := &routeCache{
			recent:   recentStores{seed: maphash.MakeSeed()},
			store:    store,
			policy:   cache.Policy{AllowPrivate: cc.AllowPrivate},
			maxStale: cc.MaxStale,
			maxEntry: int(cc.MaxEntrySize),
			marker:   []byte(cc.MarkerHeader),
			markerV:  []byte(cc.MarkerValue),
		}
		for _, v := range cc.Vary {
			rc.vary = append(rc.vary, []byte(v))
		}
		f.cache = rc
	}
	return f, nil
}

// sharedCacheFor returns the store of routes whose copies all instances
// share: mem in front of Redis, made on first use. Redis keeps an entry as
// long as the longest max_stale of such routes.
func (d *deps) sharedCacheFor(cfg *config.Config, mem *cache.Memory) (*cache.Tiered, error) {
	client, err := d.redisFor(cfg.Redis)
	if err != nil {
		return nil, err
	}
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	if d.shared != nil {
		return d.shared, nil
	}
	ttl := time.Duration(0)
	for i := range cfg.Routes {
		if f := cfg.Routes[i].Fallback; f != nil && f.Cache != nil && f.Cache.Store == config.StoreRedis {
			ttl = max(ttl, f.Cache.MaxStale)
		}
	}
	r, err := cache.NewRedis(client, cache.RedisSettings{
		Prefix: "gateway:fallback:", TTL: ttl, Timeout: cfg.Redis.Timeout, MaxEntryBytes: mem.Settings().MaxEntryBytes,
	})
	if err != nil {
		return nil, err
	}
	t, err := cache.NewTiered(mem, r, cache.TieredSettings{})
	if err != nil {
		return nil, err
	}
	d.shared = t
	return t, nil
}

// cacheFor returns the gateway-wide fallback cache, made on first use
// with the settings of cfg.Cache (nil: the defaults).
func (d *deps) cacheFor(cfg *config.Config) (*cache.Memory, error) {
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	if d.cache != nil {
		return d.cache, nil
	}
	s := cache.Settings{MaxBytes: cache.DefaultMaxBytes, RefreshAfter: fallbackRefresh}
	if c := cfg.Cache; c != nil {
		s.MaxBytes, s.MaxEntries = int64(c.MaxBytes), c.MaxEntries
	}
	// The cache keeps room for its largest entry, so that is sized by the
	// largest max_entry_size of the routes, with room for key and
	// headers. A route added later with a larger one has its larger
	// answers skipped until a restart.
	var largest int64
	for i := range cfg.Routes {
		if f := cfg.Routes[i].Fallback; f != nil && f.Cache != nil {
			largest = max(largest, int64(f.Cache.MaxEntrySize))
		}
	}
	s.MaxEntryBytes = int(min(largest+entryHeadroom, s.MaxBytes/2))
	mem, err := cache.NewMemory(s)
	if err != nil {
		return nil, err
	}
	d.cache = mem
	d.metrics.WatchCache(func() metrics.CacheStats {
		st := mem.Stats()
		return metrics.CacheStats{Hits: st.Hits, Misses: st.Misses, Evictions: st.Evictions, Bytes: st.Bytes, Entries: st.Entries}
	})
	return mem, nil
}

// close gives back the alternate upstream's connections.
func (f *fallback) close() {
	if f.alt != nil {
		f.alt.pool.close()
	}
}

// onStatus reports whether the upstream's answer to ctx's request has a
// status of fallback.on_status and the request's method gets the chain.
func (f *fallback) onStatus(ctx *fasthttp.RequestCtx) bool {
	st := ctx.Response.StatusCode() - 400
	return st >= 0 && st < 200 && f.statuses[st/64]&(1<<(st%64)) != 0 && f.eligible(ctx.Method())
}

// eligible reports whether a request of method gets the fallback chain.
func (f *fallback) eligible(method []byte) bool {
	for _, m := range f.methods {
		if bytes.Equal(m, method) {
			return true
		}
	}
	return false
}

// keyed reports whether a request of method needs its cache key: its
// answer may be stored, or a stored copy may answer it.
func (f *fallback) keyed(method []byte) bool {
	return string(method) == fasthttp.MethodGet || f.eligible(method)
}

// cacheKey is a request's fallback cache key, with its slot in the
// route's table of recent stores.
type cacheKey struct {
	b    []byte
	slot *recentSlot
	hash uint64
}

// keyPool holds the cacheKeys of requests in flight.
var keyPool = sync.Pool{New: func() any { return &cacheKey{b: make([]byte, 0, 256)} }}

// maxPooledKey is the largest key buffer kept for reuse.
const maxPooledKey = 4 << 10

// key builds the request's cache key and reports whether no copy of its
// answer is to be kept: it is not a GET, or a copy was stored less than
// fallbackRefresh before the request came. Deciding that now, while the
// request's bytes are in the processor's cache, spares a busy route
// reading the key and the request again once the upstream answered. Not
// inlined, so that the buffers it builds the key with do not sit in the
// frame of fallbackStep.serve during the whole forward.
//
//go:noinline
func (f *fallback) key(route string, ctx *fasthttp.RequestCtx) (k *cacheKey, skipStore bool) {
	k = keyPool.Get().(*cacheKey)
	if cap(k.b) > maxPooledKey { // a rare long key grew it
		k.b = make([]byte, 0, 256)
	}
	k.b = f.appendKey(k.b[:0], route, ctx)
	k.slot, k.hash = f.cache.recent.slot(k.b)
	return k, !ctx.IsGet() || k.slot.fresh(k.hash, ctx.Time())
}

// releaseKey gives k, if not nil, back to keyPool.
func releaseKey(k *cacheKey) {
	if k != nil {
		keyPool.Put(k)
	}
}

// appendKey appends the request's cache key to dst: the route's name,
// then method, host, path, query and the vary headers. A HEAD request
// takes the key of its GET: the stored copy answers both. It must run
// before the backend rewrites the request.
func (f *fallback) appendKey(dst []byte, route string, ctx *fasthttp.RequestCtx) []byte {
	c := f.cache
	dst = binary.AppendUvarint(dst, uint64(len(route)))
	dst = append(dst, route...)
	var stack [maxStackVary][]byte
	vary := stack[:0]
	if len(c.vary) > maxStackVary {
		vary = make([][]byte, 0, len(c.vary))
	}
	for _, name := range c.vary {
		vary = append(vary, ctx.Request.Header.PeekBytes(name))
	}
	method := ctx.Method()
	if ctx.IsHead() {
		method = getMethod
	}
	return cache.AppendKey(dst, method, ctx.Host(), ctx.Path(), ctx.URI().QueryString(), vary...)
}

// serve runs the fallback chain for a request whose upstream failed with
// cause (or whose breaker is open): a fresh enough cached copy, the
// alternate upstream, the static answer, or cause itself for the
// gateway's error answer. For errUpstreamStatus the last step is the
// upstream's own answer, still in ctx unless the alternate was tried (then
// a 502). ran says whether the route's backend ran (and so prepared the
// request for forwarding) before it failed.
func (f *fallback) serve(ctx *fasthttp.RequestCtx, key []byte, cause error, ran bool) error {
	if c := f.cache; c != nil && key != nil {
		now := time.Now()
		if e, ok := c.store.Get(key, now); ok && now.Sub(e.Stored) <= c.maxStale {
			c.write(ctx, e, now)
			f.metrics.FallbackServed(metrics.SourceCache)
			return nil
		}
	}
	triedAlt := false
	if f.alt != nil {
		var answered bool
		if answered, triedAlt = f.tryAlternate(ctx, ran); answered {
			f.metrics.FallbackServed(metrics.SourceUpstream)
			return nil
		}
	}
	if f.static != nil {
		resetResponse(&ctx.Response)
		_ = f.static.serve(ctx)
		markFallback(ctx, fallbackStatic)
		f.metrics.FallbackServed(metrics.SourceStatic)
		return nil
	}
	f.metrics.FallbackServed(metrics.SourceError)
	if cause == errUpstreamStatus {
		if triedAlt {
			return errUpstreamFailed
		}
		return nil
	}
	return cause
}

// tryAlternate forwards the request to the alternate upstream, with its
// own timeout counted from now, and reports whether it answered and
// whether it tried (and so cleared the response). A request whose
// streamed body the failed attempt may have consumed is not sent again.
func (f *fallback) tryAlternate(ctx *fasthttp.RequestCtx, ran bool) (answered, tried bool) {
	req := &ctx.Request
	if ran && req.IsBodyStream() && req.Header.ContentLength() != 0 {
		return false, false
	}
	if !ran {
		f.alt.prepareFrom(ctx)
	} else if hh := f.alt.pool.settings.HostHeader; hh != "" {
		req.Header.SetHost(hh)
	}
	resetResponse(&ctx.Response)
	if err := f.alt.forward(ctx, time.Now()); err != nil {
		return false, true
	}
	f.respHeaders.applyResponse(&ctx.Response.Header)
	markFallback(ctx, fallbackUpstream)
	return true, true
}

// resetResponse clears what an upstream may have left in resp, keeping a
// decision to close the connection.
func resetResponse(resp *fasthttp.Response) {
	closeConn := resp.ConnectionClose()
	resp.Reset()
	if closeConn {
		resp.SetConnectionClose()
	}
}

// write answers with the stored copy e, marked as a stale fallback.
func (c *routeCache) write(ctx *fasthttp.RequestCtx, e *cache.Entry, now time.Time) {
	resp := &ctx.Response
	resetResponse(resp)
	resp.SetStatusCode(e.Status)
	for h := e.Header; len(h) > 0; {
		line := h
		if i := bytes.Index(h, crlf); i >= 0 {
			line, h = h[:i], h[i+2:]
		} else {
			h = nil
		}
		k, v, ok := bytes.Cut(line, colonSpace)
		if ok {
			resp.Header.AddBytesKV(k, v)
		}
	}
	var age [20]byte
	resp.Header.SetBytesV(hdrAge, strconv.AppendInt(age[:0], ageSeconds(now, e.Stored), 10))
	resp.Header.SetBytesKV(c.marker, c.markerV)
	markFallback(ctx, fallbackCache)
	resp.SetBody(e.Body)
}

var (
	getMethod  = []byte(fasthttp.MethodGet)
	crlf       = []byte("\r\n")
	colonSpace = []byte(": ")
)

// store keeps a copy of the upstream's good answer to a GET under k,
// when the policy allows it and the cache wants it. A streamed body is
// read into memory first and then sent from there. Only an error reading
// the body fails the request. Not inlined, like fallbackStep.fail.
//
//go:noinline
func (f *fallback) store(ctx *fasthttp.RequestCtx, k *cacheKey) error {
	c := f.cache
	resp := &ctx.Response
	cl := resp.Header.ContentLength()
	if cl < 0 || cl > c.maxEntry {
		return nil
	}
	// The request's start stands for now: a copy is a second old before
	// it is replaced (a busy route's requests skip this, see
	// fallback.key), and its Age counts from when the request arrived.
	key := k.b
	now := ctx.Time()
	if !c.store.Wants(key, now) {
		return nil
	}
	setCookie := false
	for range resp.Header.Cookies() {
		setCookie = true
		break
	}
	if !c.policy.Storable(ctx.Method(), resp.StatusCode(), resp.Header.Peek(fasthttp.HeaderCacheControl), setCookie) {
		return nil
	}
	if string(resp.Header.Peek(fasthttp.HeaderVary)) == "*" {
		return nil
	}
	var body []byte
	switch {
	case resp.IsBodyStream():
		buf := make([]byte, cl)
		if _, err := io.ReadFull(resp.BodyStream(), buf); err != nil {
			ctx.SetConnectionClose()
			return errUpstreamFailed
		}
		resp.SetBody(buf)
		body = buf
	default:
		body = resp.Body()
	}
	c.store.Put(key, &cache.Entry{Status: resp.StatusCode(), Header: appendStoredHeaders(nil, &resp.Header), Body: body, Stored: now})
	k.slot.stored(k.hash, now)
	return nil
}

// appendStoredHeaders appends h's headers as "Name: value\r\n" lines,
// leaving out framing and hop-by-hop headers, cookies, the request id
// and an upstream's own Age and Date.
func appendStoredHeaders(dst []byte, h *fasthttp.ResponseHeader) []byte {
	for k, v := range h.All() {
		if httpx.ClassifyHeader(k)&(httpx.FlagHopByHop|httpx.FlagRequestID) != 0 || notStored(k) {
			continue
		}
		dst = append(dst, k...)
		dst = append(dst, colonSpace...)
		dst = append(dst, v...)
		dst = append(dst, crlf...)
	}
	return dst
}

func notStored(k []byte) bool {
	for _, name := range [...]string{fasthttp.HeaderContentLength, fasthttp.HeaderTransferEncoding,
		fasthttp.HeaderSetCookie, fasthttp.HeaderDate, hdrAge, hdrFallback} {
		if len(k) == len(name) && bytes.EqualFold(k, []byte(name)) {
			return true
		}
	}
	return false
}
