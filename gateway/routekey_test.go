package gateway

import (
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/metrics"
)

const routeKeyBase = `
trusted_proxies: [10.0.0.0/8]
brokers:
  events: { nats: { url: "nats://127.0.0.1:4222" } }
routes:
  - { name: hello, match: { path: /hello }, respond: { body: "hello" } }
  - { name: events, match: { path: /events }, publish: { broker: events, subject: ev } }
`

// The reload report, the digest that gateway validate -diff compares and
// the carry-over of a reload agree on which routes changed, whatever
// changed.
func TestRouteUnchangedOneDefinition(t *testing.T) {
	tests := []struct {
		desc    string
		give    string // routeKeyBase with one edit
		changed []string
		why     string // a key the reload report names for each changed route
	}{
		{desc: "nothing", give: routeKeyBase},
		{desc: "a route's body", give: strings.Replace(routeKeyBase, `body: "hello"`, `body: "hi"`, 1),
			changed: []string{"hello"}, why: "respond"},
		{desc: "a broker's address", give: strings.Replace(routeKeyBase, "4222", "4223", 1),
			changed: []string{"events"}, why: "brokers.events"},
		{desc: "a broker's readiness only", give: strings.Replace(routeKeyBase, `4222" } }`, `4222" }, required: true }`, 1)},
		{desc: "trusted proxies", give: strings.Replace(routeKeyBase, "10.0.0.0/8", "10.0.0.0/16", 1),
			changed: []string{"hello", "events"}, why: "trusted_proxies"},
		{desc: "the default body limit", give: routeKeyBase + "server: { max_body_size: 1MiB }\n",
			changed: []string{"hello", "events"}, why: "server.max_body_size"},
	}
	base := parseTest(t, routeKeyBase)
	d := &deps{metrics: metrics.New(prometheus.NewRegistry(), metrics.Build{Version: "test"}), clients: &clients{},
		log: slog.New(slog.DiscardHandler), check: true, brokers: &brokers{}}
	t.Cleanup(d.close)
	prev, err := buildSnapshot(base, d, nil, &observer{}, summary{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prev.close(d) })
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			next := parseTest(t, tt.give)
			res := diffConfigs(base, next, nil, nil)
			reported := slices.Sorted(func(yield func(string) bool) {
				for name := range res.Changed {
					if !yield(name) {
						return
					}
				}
			})
			want := slices.Sorted(slices.Values(tt.changed))
			if !slices.Equal(reported, want) {
				t.Errorf("reload report: changed %q, want %q", reported, want)
			}
			for _, name := range tt.changed {
				if !slices.Contains(res.Changed[name], tt.why) {
					t.Errorf("reload report: %s changed by %q, want %s among them", name, res.Changed[name], tt.why)
				}
			}
			var digest []string
			for _, line := range DiffDigests(DigestOf(base), DigestOf(next)) {
				if name, ok := strings.CutPrefix(line, "~ route "); ok {
					digest = append(digest, strings.TrimSuffix(name, " (changed)"))
				}
			}
			slices.Sort(digest)
			if !slices.Equal(digest, want) {
				t.Errorf("validate -diff: changed %q, want %q", digest, want)
			}
			s, err := buildSnapshot(next, d, prev, &observer{}, summary{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.closeExcept(prev, d)
			kept := prev.routeSet()
			var rebuilt []string
			for _, rt := range s.routes {
				if !kept[rt] {
					rebuilt = append(rebuilt, rt.name)
				}
			}
			slices.Sort(rebuilt)
			if !slices.Equal(rebuilt, want) {
				t.Errorf("reload: rebuilt %q, want %q", rebuilt, want)
			}
		})
	}
}

func parseTest(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
