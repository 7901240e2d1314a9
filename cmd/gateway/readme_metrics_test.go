package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReadmeMetricLabelValues: the values of the labels with a fixed set
// (upstream error kinds, fallback sources, publish results, reload
// results, breaker states) that the Metrics table of docs/observability.md
// lists are the
// ones the gateway exports. The children of these labels are made when a
// route is built, so a gateway with a route of each kind shows them all;
// breaker transitions appear as they happen, so there the table must list
// at least those seen.
func TestReadmeMetricLabelValues(t *testing.T) {
	body, readme := servedMetrics(t)
	for _, tt := range []struct {
		metric, label string
		exact         bool // every value is exported from the start
	}{
		{"gateway_upstream_errors_total", "kind", true},
		{"gateway_fallback_served_total", "source", true},
		{"gateway_publish_total", "result", true},
		{"gateway_config_reloads_total", "result", true},
		{"gateway_breaker_transitions_total", "to", false},
	} {
		served := labelValues(body, tt.metric, tt.label)
		if len(served) == 0 {
			t.Errorf("/metrics has no %s{%s}", tt.metric, tt.label)
			continue
		}
		documented := readmeMetricValues(t, string(readme), tt.metric)
		for _, v := range served {
			if !slices.Contains(documented, v) {
				t.Errorf("docs/observability.md Metrics table: %s lacks the %s value %q (it lists %q)", tt.metric, tt.label, v, documented)
			}
		}
		if !tt.exact {
			continue
		}
		for _, v := range documented {
			if !slices.Contains(served, v) {
				t.Errorf("docs/observability.md Metrics table: %s lists the %s value %q, which the gateway does not export (it exports %q)", tt.metric, tt.label, v, served)
			}
		}
	}
}

// TestReadmeMetricLabels: the labels column of the Metrics table of docs/observability.md
// names exactly the labels of each metric the gateway serves (with a
// route of each kind, a publish route and an open breaker).
func TestReadmeMetricLabels(t *testing.T) {
	body, readme := servedMetrics(t)
	served := map[string][]string{}
	series := regexp.MustCompile(`^(gateway_[a-z_]+?)(?:_bucket|_sum|_count)?(?:\{(.*)\})? `)
	name := regexp.MustCompile(`(?:^|,)([a-z_]+)=`)
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		m := series.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		metric := m[1]
		if _, ok := served[metric]; !ok {
			served[metric] = []string{}
		}
		for _, l := range name.FindAllStringSubmatch(m[2], -1) {
			if l[1] != "le" && !slices.Contains(served[metric], l[1]) {
				served[metric] = append(served[metric], l[1])
			}
		}
	}
	if len(served) < 15 {
		t.Fatalf("/metrics served only %d gateway metrics", len(served))
	}
	for metric, labels := range served {
		documented := readmeMetricLabels(t, string(readme), metric)
		slices.Sort(labels)
		slices.Sort(documented)
		if !slices.Equal(labels, documented) {
			t.Errorf("docs/observability.md Metrics table: %s has the labels %q, the gateway serves %q", metric, documented, labels)
		}
	}
}

// readmeMetricLabels returns the labels column of the row of metric (one
// that names it in its first column, alone or with others).
func readmeMetricLabels(t *testing.T, readme, metric string) []string {
	t.Helper()
	_, section, _ := strings.Cut(readme, "\n## Metrics\n")
	section, _, _ = strings.Cut(section, "\n## ")
	tick := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 6 || !strings.Contains(cells[1], "`"+metric+"`") {
			continue
		}
		out := []string{}
		for _, m := range tick.FindAllStringSubmatch(cells[3], -1) {
			out = append(out, m[1])
		}
		return out
	}
	t.Errorf("docs/observability.md Metrics table has no row for %s", metric)
	return nil
}

// servedMetrics returns what /metrics serves for a gateway with a route of
// each kind (proxy with a route breaker and fallbacks, proxy with target
// breakers, publish), after a failed request on each breaker's route, and
// docs/observability.md.
func servedMetrics(t *testing.T) (exposition, readme []byte) {
	t.Helper()
	gw := startBridgeGateway(t, `
brokers:
  b: { nats: { url: "nats://127.0.0.1:1", jetstream: false } }
routes:
  - name: p
    match: { path: /p }
    upstream: { targets: ["http://127.0.0.1:1"], retries: 0 }
    circuit_breaker: { consecutive_failures: 1, open_for: 1h }
    fallback: { cache: { max_stale: 1m }, static: { status: 503 } }
  - name: t
    match: { path: /t }
    upstream: { targets: ["http://127.0.0.1:1"], retries: 0 }
    circuit_breaker: { per: target, consecutive_failures: 1, open_for: 1h }
  - name: pub
    match: { path: /pub, methods: [POST] }
    publish: { broker: b, subject: s }
`, nil)
	gw.do(t, "GET", "/p", nil, "") // a failure opens each breaker
	gw.do(t, "GET", "/t", nil, "")
	resp, err := http.Get(gw.admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposition, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if readme, err = os.ReadFile(observabilityDoc); err != nil {
		t.Fatal(err)
	}
	return exposition, readme
}

// labelValues returns the values label takes in the series of metric.
func labelValues(exposition []byte, metric, label string) []string {
	re := regexp.MustCompile(`[{,]` + label + `="([^"]*)"`)
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(exposition))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		if m := re.FindStringSubmatch(line); m != nil && !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// readmeMetricValues returns the backticked words of the meaning column
// of metric's row in the Metrics table of docs/observability.md, outside
// parentheses.
func readmeMetricValues(t *testing.T, readme, metric string) []string {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Metrics\n")
	if !ok {
		t.Fatal("docs/observability.md has no Metrics section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	tick := regexp.MustCompile("`([^`]+)`")
	paren := regexp.MustCompile(`\([^()]*\)`)
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 6 || !strings.Contains(cells[1], "`"+metric+"`") {
			continue
		}
		var out []string
		meaning := paren.ReplaceAllString(cells[4], "") // asides explain a value
		for _, m := range tick.FindAllStringSubmatch(meaning, -1) {
			out = append(out, m[1])
		}
		return out
	}
	t.Fatalf("docs/observability.md Metrics table has no row for %s", metric)
	return nil
}
