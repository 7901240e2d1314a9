package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRouteSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, Build{Version: "v1"})
	r := m.Route("api")
	if m.Route("api") != r {
		t.Fatal("Route must return the same series for the same name")
	}
	r.Request([]byte("GET"), 200)
	r.Request([]byte("GET"), 200)
	r.Request([]byte("BREW"), 418)
	r.UpstreamError(KindTimeout)
	r.UpstreamError(UpstreamErrorKind(200)) // out of range counts as other

	tests := []struct {
		desc string
		give prometheus.Collector
		want float64
	}{
		{desc: "GET 200", give: m.requests.WithLabelValues("api", "GET", "200"), want: 2},
		{desc: "unknown method bounded to OTHER", give: m.requests.WithLabelValues("api", "OTHER", "418"), want: 1},
		{desc: "timeout kind", give: m.upstreamErrors.WithLabelValues("api", "timeout"), want: 1},
		{desc: "out-of-range kind", give: m.upstreamErrors.WithLabelValues("api", "other"), want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := testutil.ToFloat64(tt.give); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	m.Forget(func(name string) bool { return name != "api" })
	out, err := testutil.GatherAndCount(reg, "gateway_requests_total")
	if err != nil {
		t.Fatal(err)
	}
	if out != 0 {
		t.Errorf("after Forget, %d gateway_requests_total series remain, want 0", out)
	}
	if m.Route("api") == r {
		t.Error("a forgotten route must get new series")
	}
}

func TestBuildInfoAndReloads(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, Build{Version: "v1.2.3"})
	m.ConfigApplied(1700000000, "abc")
	m.ConfigRejected()
	want := `
# HELP gateway_config_reloads_total Configurations loaded, by result (success, failure).
# TYPE gateway_config_reloads_total counter
gateway_config_reloads_total{result="failure"} 1
gateway_config_reloads_total{result="success"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gateway_config_reloads_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.lastReload); got != 1700000000 {
		t.Errorf("last reload = %v", got)
	}
}

func TestBuildInfoCarriesVersionAndCommit(t *testing.T) {
	for _, tt := range []struct {
		desc, commit, want string
	}{
		{desc: "commit unset", commit: "", want: "unknown"},
		{desc: "commit from the build", commit: "0123456789abcdef", want: "0123456789abcdef"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			New(reg, Build{Version: "v1.2.3", Commit: tt.commit})
			want := `
# HELP gateway_build_info Always 1; the version and commit labels say which build runs.
# TYPE gateway_build_info gauge
gateway_build_info{commit="` + tt.want + `",version="v1.2.3"} 1
`
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gateway_build_info"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestBreakerAndFallbackSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, Build{Version: "test"})
	r := m.Route("api")
	r.FallbackServed(SourceCache) // before UseFallbacks: not counted
	r.UseFallbacks()
	r.UseFallbacks()
	r.FallbackServed(SourceCache)
	r.FallbackServed(SourceStatic)
	r.FallbackServed(SourceStatic)
	r.FallbackServed(SourceUpstream)
	r.BreakerState(2)
	r.TargetBreakerState("10.0.0.1:80", 1)
	want := `
# HELP gateway_breaker_state State of a route's circuit breaker: 0 closed, 1 half-open, 2 open.
# TYPE gateway_breaker_state gauge
gateway_breaker_state{route="api"} 2
# HELP gateway_breaker_target_state State of the circuit breaker of one upstream target of a route with per: target: 0 closed, 1 half-open, 2 open.
# TYPE gateway_breaker_target_state gauge
gateway_breaker_target_state{route="api",target="10.0.0.1:80"} 1
# HELP gateway_fallback_served_total Fallback answers served instead of an upstream's, by route and source (cache, upstream, static, error).
# TYPE gateway_fallback_served_total counter
gateway_fallback_served_total{route="api",source="cache"} 1
gateway_fallback_served_total{route="api",source="error"} 0
gateway_fallback_served_total{route="api",source="static"} 2
gateway_fallback_served_total{route="api",source="upstream"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gateway_breaker_state", "gateway_breaker_target_state", "gateway_fallback_served_total"); err != nil {
		t.Error(err)
	}
	if n := testing.AllocsPerRun(100, func() { r.FallbackServed(SourceError) }); n != 0 {
		t.Errorf("FallbackServed: %.1f allocations, want 0", n)
	}
	r.NoBreaker()
	if n, _ := testutil.GatherAndCount(reg, "gateway_breaker_state"); n != 0 {
		t.Errorf("after NoBreaker, %d breaker series remain, want 0", n)
	}
	r.BreakerState(1)
	m.Forget(func(string) bool { return false })
	for _, name := range []string{"gateway_breaker_state", "gateway_fallback_served_total"} {
		if n, _ := testutil.GatherAndCount(reg, name); n != 0 {
			t.Errorf("after Forget, %d %s series remain, want 0", n, name)
		}
	}
}
