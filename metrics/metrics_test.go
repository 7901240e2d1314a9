package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRouteSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, "v1")
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
	m := New(reg, "v1.2.3")
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
