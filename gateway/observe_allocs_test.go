//go:build !race

package gateway

import (
	"io"
	"strings"
	"testing"

	"github.com/fastgate/gateway/config"
)

// TestAccessLogAllocations: a logged request, proxied with strip_prefix
// (its client path and query kept for the log) or answered by the
// gateway, costs no allocation.
func TestAccessLogAllocations(t *testing.T) {
	up := benchUpstream(t, benchBody)
	cfg, err := config.Parse([]byte(strings.ReplaceAll(`
access_log: { query: true }
routes:
  - { name: logged, match: { path_prefix: /logged/ }, strip_prefix: /logged, upstream: { targets: ["{UP1}"] } }
  - { name: logged-respond, match: { path_prefix: /logged-respond/ }, respond: { body: "hello, world!" } }
`, "{UP1}", up)), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gw := serveConfigWith(t, cfg, Options{AccessLogOutput: io.Discard})
	for _, path := range []string{"/logged/x?q=1", "/logged-respond/x?q=1"} {
		t.Run(path, func(t *testing.T) {
			ctx := newBenchCtx(path)
			for i := 0; i < 10; i++ {
				serveOnce(gw.Gateway, ctx, path)
			}
			if n := testing.AllocsPerRun(200, func() { serveOnce(gw.Gateway, ctx, path) }); n != 0 {
				t.Errorf("%.1f allocations per request, want 0", n)
			}
		})
	}
}
