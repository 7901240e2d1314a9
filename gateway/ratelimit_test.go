package gateway

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fastgate/gateway/config"
)

// redisAddr is the Redis the tests share: REDIS_ADDR or the loopback
// default. A test that cannot reach it fails under make test
// (REQUIRE_SERVICES) and skips when run by hand.
func redisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("REQUIRE_SERVICES") != "" {
			t.Fatalf("redis at %s: %v", addr, err)
		}
		t.Skipf("redis at %s: %v", addr, err)
	}
	c.Close()
	return addr
}

// burstCount sends n requests and counts the 200s and 429s.
func burstCount(t *testing.T, g *testGateway, n int, path string, hdr map[string]string) (ok, limited int) {
	t.Helper()
	for i := 0; i < n; i++ {
		switch s := g.do(t, "GET", path, hdr, "").StatusCode(); s {
		case 200:
			ok++
		case 429:
			limited++
		default:
			t.Fatalf("status %d", s)
		}
	}
	return ok, limited
}

func TestRateLimitAnswer(t *testing.T) {
	g := startGateway(t, `
routes:
  - name: limited
    match: { path: /l }
    rate_limit: { rate: 1/h, burst: 2, headers: true, legacy_headers: true }
    respond: { body: "ok" }
`)
	resp := g.do(t, "GET", "/l", nil, "")
	if resp.StatusCode() != 200 {
		t.Fatalf("first request: %d", resp.StatusCode())
	}
	if got := string(resp.Header.Peek("RateLimit")); got != `"limited";r=1;t=3600` {
		t.Errorf("RateLimit on an admitted answer = %q", got)
	}
	if got := string(resp.Header.Peek("RateLimit-Policy")); got != `"limited";q=2;w=7200` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
	g.do(t, "GET", "/l", nil, "")
	resp = g.do(t, "GET", "/l", nil, "")
	if resp.StatusCode() != 429 {
		t.Fatalf("third request: %d, want 429", resp.StatusCode())
	}
	checks := map[string]string{
		"Retry-After":         "3600",
		"RateLimit":           `"limited";r=0;t=3600`,
		"RateLimit-Remaining": "0",
		"RateLimit-Limit":     "2",
		"Content-Type":        "application/json",
	}
	for h, want := range checks {
		if got := string(resp.Header.Peek(h)); got != want {
			t.Errorf("429 %s = %q, want %q", h, got, want)
		}
	}
	if body := string(resp.Body()); body != `{"error":"rate limit exceeded","route":"limited"}`+"\n" {
		t.Errorf("429 body %q", body)
	}
	if _, raw := g.raw(t, "GET /l HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.Contains(raw, "\r\nRateLimit-Policy: ") || !strings.Contains(raw, "\r\nRateLimit: ") {
		t.Errorf("header names not spelled as the draft does:\n%s", raw)
	}
	if got := g.metric(t, `gateway_ratelimit_rejected_total{route="limited"}`); got != 2 {
		t.Errorf("gateway_ratelimit_rejected_total = %v, want 1", got)
	}
}

func TestRateLimitKeys(t *testing.T) {
	g := startGateway(t, `
trusted_proxies: [127.0.0.1]
routes:
  - { name: by-ip, match: { path: /ip }, rate_limit: { rate: 1/h, burst: 2, per: client_ip }, respond: {} }
  - { name: by-key, match: { path: /key }, rate_limit: { rate: 1/h, burst: 2, per: "header:X-Api-Key" }, respond: {} }
  - { name: by-query, match: { path: /q }, rate_limit: { rate: 1/h, burst: 2, per: "query:user" }, respond: {} }
  - { name: own-a, match: { path: /own-a }, rate_limit: { rate: 1/h, burst: 2 }, respond: {} }
  - { name: own-b, match: { path: /own-b }, rate_limit: { rate: 1/h, burst: 2 }, respond: {} }
  - { name: shared-a, match: { path: /shared-a }, rate_limit: { rate: 1/h, burst: 3, bucket: team }, respond: {} }
  - { name: shared-b, match: { path: /shared-b }, rate_limit: { rate: 1/h, burst: 3, bucket: team }, respond: {} }
`)
	tests := []struct {
		desc   string
		path   string
		hdr    map[string]string
		wantOK int
	}{
		{desc: "client A by forwarded address", path: "/ip", hdr: map[string]string{"X-Forwarded-For": "198.51.100.1"}, wantOK: 2},
		{desc: "client B has its own bucket", path: "/ip", hdr: map[string]string{"X-Forwarded-For": "198.51.100.2"}, wantOK: 2},
		{desc: "api key one", path: "/key", hdr: map[string]string{"X-Api-Key": "one"}, wantOK: 2},
		{desc: "api key two has its own bucket", path: "/key", hdr: map[string]string{"X-Api-Key": "two"}, wantOK: 2},
		{desc: "requests without the key share one bucket", path: "/key", wantOK: 2},
		{desc: "query value", path: "/q?user=ann", wantOK: 2},
		{desc: "other query value", path: "/q?user=bob", wantOK: 2},
		{desc: "a route's own bucket", path: "/own-a", wantOK: 2},
		{desc: "another route's own bucket is not shared", path: "/own-b", wantOK: 2},
		{desc: "a shared bucket", path: "/shared-a", wantOK: 3},
		{desc: "the other route of the shared bucket finds it empty", path: "/shared-b", wantOK: 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ok, limited := burstCount(t, g, 4, tt.path, tt.hdr)
			if ok != tt.wantOK || limited != 4-tt.wantOK {
				t.Errorf("%d admitted, %d limited; want %d admitted", ok, limited, tt.wantOK)
			}
		})
	}
}

// TestRateLimitSurvivesReload: a limit the reload does not change keeps its
// bucket, so a client at its limit is still limited after the reload.
func TestRateLimitSurvivesReload(t *testing.T) {
	base := `
routes:
  - { name: limited, match: { path: /l }, rate_limit: { rate: 1/h, burst: 2 }, respond: {} }
`
	g := startGateway(t, base)
	if ok, _ := burstCount(t, g, 3, "/l", nil); ok != 2 {
		t.Fatalf("admitted %d before the reload, want 2", ok)
	}
	cfg, err := config.Parse([]byte(base+"  - { name: other, match: { path: /o }, respond: {} }\n"), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if s := g.do(t, "GET", "/l", nil, "").StatusCode(); s != 429 {
		t.Errorf("after a reload that left the limit alone: %d, want 429", s)
	}
	// A changed limit starts afresh.
	cfg, err = config.Parse([]byte(strings.Replace(base, "burst: 2", "burst: 3", 1)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if s := g.do(t, "GET", "/l", nil, "").StatusCode(); s != 200 {
		t.Errorf("after the limit changed: %d, want 200 from a fresh bucket", s)
	}
}

// TestRateLimitCluster: two gateways sharing one Redis share the limit,
// and the test leaves no key behind (its bucket's key would live
// burst/rate, four hours).
func TestRateLimitCluster(t *testing.T) {
	addr := redisAddr(t)
	bucket := fmt.Sprintf("t%d", time.Now().UnixNano())
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	t.Run("shared", func(t *testing.T) {
		t.Cleanup(func() { deleteRedisKeys(t, rdb, "*"+bucket+"*") })
		cfg := fmt.Sprintf(`
redis: { address: "%s", timeout: 200ms }
routes:
  - name: shared
    match: { path: /s }
    rate_limit: { rate: 1/h, burst: 4, scope: cluster, bucket: %s }
    respond: {}
`, addr, bucket)
		a, b := startGateway(t, cfg), startGateway(t, cfg)
		okA, _ := burstCount(t, a, 3, "/s", nil)
		okB, _ := burstCount(t, b, 3, "/s", nil)
		if okA+okB != 4 {
			t.Errorf("admitted %d + %d across two gateways, want 4 in all", okA, okB)
		}
	})
	if keys := redisKeys(t, rdb, "*"+bucket+"*"); len(keys) > 0 {
		t.Errorf("the test left %q in Redis", keys)
	}
}

// redisKeys lists the keys matching pattern (at most 1000).
func redisKeys(t *testing.T, rdb *redis.Client, pattern string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var keys []string
	var cursor uint64
	for range 100 {
		page, next, err := rdb.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			t.Errorf("redis SCAN %s: %v", pattern, err)
			return keys
		}
		keys = append(keys, page...)
		if cursor = next; cursor == 0 || len(keys) >= 1000 {
			break
		}
	}
	return keys
}

// deleteRedisKeys deletes the keys matching pattern.
func deleteRedisKeys(t *testing.T, rdb *redis.Client, pattern string) {
	t.Helper()
	if keys := redisKeys(t, rdb, pattern); len(keys) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rdb.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("redis DEL: %v", err)
		}
	}
}

// TestRateLimitRedisDown: with Redis unreachable each mode does what it
// says, at once.
func TestRateLimitRedisDown(t *testing.T) {
	dead := strings.TrimPrefix(deadAddr(t), "http://")
	g := startGateway(t, fmt.Sprintf(`
redis: { address: "%s", timeout: 100ms }
routes:
  - { name: deny, match: { path: /deny }, rate_limit: { rate: 100, scope: cluster, on_redis_error: deny }, respond: {} }
  - { name: allow, match: { path: /allow }, rate_limit: { rate: 1/h, burst: 1, scope: cluster, on_redis_error: allow }, respond: {} }
  - { name: local, match: { path: /local }, rate_limit: { rate: 1/h, burst: 2, scope: cluster, instances: 2 }, respond: {} }
`, dead))
	tests := []struct {
		desc   string
		path   string
		wantOK int
	}{
		{desc: "deny refuses everything", path: "/deny", wantOK: 0},
		{desc: "allow admits everything", path: "/allow", wantOK: 5},
		{desc: "local admits the instance's share of the burst", path: "/local", wantOK: 1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			start := time.Now()
			ok, _ := burstCount(t, g, 5, tt.path, nil)
			if ok != tt.wantOK {
				t.Errorf("%d admitted, want %d", ok, tt.wantOK)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("5 requests took %v with Redis down", d)
			}
		})
	}
	if got := g.metric(t, `gateway_ratelimit_redis_fallback_total{route="allow"}`); got < 4 {
		t.Errorf("gateway_ratelimit_redis_fallback_total{route=allow} = %v, want the fallbacks counted", got)
	}
}
