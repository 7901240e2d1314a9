package gateway

import (
	"testing"
	"time"
)

// TestReloadRevertCountsAsSuccess: a file that was broken and then put
// back as it was reloads to the configuration already serving. That is a
// successful reload: it is counted and moves the last-success timestamp
// past the failure, so GatewayConfigReloadFailing resolves.
func TestReloadRevertCountsAsSuccess(t *testing.T) {
	g := startFileGateway(t, twoRoutes)
	good := g.Config().Hash()
	failures := g.metric(t, `gateway_config_reloads_total{result="failure"}`)
	successes := g.metric(t, `gateway_config_reloads_total{result="success"}`)

	writeFile(t, g.path, "routes: [ { name: x\n")
	g.waitMetric(t, `gateway_config_reloads_total{result="failure"}`, func(v float64) bool { return v >= failures+1 })

	before := float64(time.Now().Unix())
	writeFile(t, g.path, twoRoutes)
	g.waitMetric(t, `gateway_config_reloads_total{result="success"}`, func(v float64) bool { return v >= successes+1 })
	if got := g.metric(t, "gateway_config_last_reload_success_timestamp_seconds"); got < before {
		t.Errorf("last success timestamp %v, want at least %v (the revert)", got, before)
	}
	if h := g.Config().Hash(); h != good {
		t.Errorf("serving %s after the revert, want the original %s", h, good)
	}
	if s := g.do(t, "GET", "/old", nil, "").StatusCode(); s != 200 {
		t.Errorf("/old after the revert: %d, want 200", s)
	}
}
