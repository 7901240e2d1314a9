package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/fastgate/gateway/metrics"
)

const (
	dashboardFile = "../../configs/grafana/gateway-dashboard.json"
	alertsFile    = "../../configs/prometheus/gateway-alerts.yml"
	readmeFile    = "../../README.md"
	// The pages of docs/ that hold the tables the tests tie to the code.
	configDoc        = "../../docs/config.md"
	observabilityDoc = "../../docs/observability.md"
)

// exported is the set of metric families the gateway exports, and which of
// them are histograms (whose series are NAME_bucket, _sum and _count).
type exported struct {
	names      map[string]bool
	histograms map[string]bool
}

// has reports whether name is a series name the gateway exports.
func (e exported) has(name string) bool {
	if e.names[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && e.histograms[base] {
			return true
		}
	}
	return false
}

// recorder is a Registerer that notes the name of every metric a collector
// describes, whether or not it has series yet.
type recorder struct {
	prometheus.Registerer
	exported
}

var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	_, histogram := c.(*prometheus.HistogramVec)
	if _, ok := c.(prometheus.Histogram); ok {
		histogram = true
	}
	for d := range ch {
		m := fqNameRE.FindStringSubmatch(d.String())
		if m == nil {
			continue
		}
		r.names[m[1]] = true
		if histogram {
			r.histograms[m[1]] = true
		}
	}
	return r.Registerer.Register(c)
}

func (r recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// exportedMetrics returns every metric the gateway registers, including
// those without series until a route of their kind serves (breakers,
// discovery, bridges): metrics.New is where the gateway registers them
// all. A gateway built in-process confirms that what it serves on /metrics
// is among them, and the Metrics table of docs/observability.md must list exactly the
// gateway_ ones.
func exportedMetrics(t *testing.T) exported {
	t.Helper()
	rec := recorder{Registerer: prometheus.NewRegistry(),
		exported: exported{names: map[string]bool{}, histograms: map[string]bool{}}}
	metrics.New(rec, metrics.Build{Version: "test"})
	if !rec.names["gateway_requests_total"] || !rec.histograms["gateway_request_duration_seconds"] {
		t.Fatalf("the recorder missed the gateway's metrics: %v", rec.names)
	}

	// What a gateway serves on its admin listener.
	gw := startBridgeGateway(t, `
routes:
  - name: hello
    match: { path: /hello }
    respond: { body: "hi" }
`, nil)
	gw.do(t, "GET", "/hello", nil, "")
	resp, err := http.Get(gw.admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	served := 0
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			served++
			if !rec.names[f[2]] {
				t.Errorf("the gateway serves %s, which metrics.New does not register", f[2])
			}
			if f[3] == "histogram" && !rec.histograms[f[2]] {
				t.Errorf("%s is served as a histogram but was not registered as one", f[2])
			}
		}
	}
	if served == 0 {
		t.Fatalf("/metrics served no metric:\n%s", body)
	}
	if !regexp.MustCompile(`(?m)^gateway_build_info\{commit="[^"]+",version="[^"]+"\} 1$`).Match(body) {
		t.Error("/metrics lacks gateway_build_info with its commit and version labels")
	}

	// The Metrics table of docs/observability.md is the contract.
	documented := readmeMetrics(t)
	for name := range documented {
		if !rec.names[name] {
			t.Errorf("docs/observability.md Metrics table lists %s, which the gateway does not export", name)
		}
	}
	for name := range rec.names {
		if strings.HasPrefix(name, "gateway_") && !documented[name] {
			t.Errorf("the gateway exports %s, which the docs/observability.md Metrics table does not list", name)
		}
	}
	return rec.exported
}

// readmeMetrics returns the names in the first column of the Metrics
// table of docs/observability.md.
func readmeMetrics(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(observabilityDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Metrics\n")
	if !ok {
		t.Fatal("docs/observability.md has no Metrics section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	names := map[string]bool{}
	tick := regexp.MustCompile("`([a-z_:]+)`")
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		for _, m := range tick.FindAllStringSubmatch(cells[1], -1) {
			names[m[1]] = true
		}
	}
	if len(names) == 0 {
		t.Fatal("docs/observability.md Metrics table lists no metric")
	}
	return names
}

var (
	promStringRE   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promGroupingRE = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promBracesRE   = regexp.MustCompile(`\{[^{}]*\}`)
	promBracketsRE = regexp.MustCompile(`\[[^\[\]]*\]`)
	promIdentRE    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promKeywords   = map[string]bool{"and": true, "or": true, "unless": true, "offset": true, "bool": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"inf": true, "nan": true, "atan2": true}
)

// promMetricNames returns the metric names a PromQL expression selects (a
// Grafana one too: $variables are not names). It is a scanner, not a
// parser: strings, label matchers, ranges and grouping labels are dropped,
// then every identifier that is not a keyword, a function call or part of
// a number is a metric name.
func promMetricNames(expr string) []string {
	s := promStringRE.ReplaceAllString(expr, `""`)
	s = promGroupingRE.ReplaceAllString(s, " ")
	s = promBracesRE.ReplaceAllString(s, " ")
	s = promBracketsRE.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range promIdentRE.FindAllStringIndex(s, -1) {
		word := s[loc[0]:loc[1]]
		if loc[0] > 0 {
			if c := s[loc[0]-1]; c == '$' || c == '.' || (c >= '0' && c <= '9') {
				continue // a variable, or the unit of a number or duration
			}
		}
		if strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "(") || promKeywords[strings.ToLower(word)] {
			continue
		}
		names = append(names, word)
	}
	return names
}

// checkExprs reports every expression that names a metric the gateway does
// not export (allowed lists others that may be used) or names none.
func checkExprs(t *testing.T, where string, exprs []string, known exported, allowed ...string) {
	t.Helper()
	for _, e := range exprs {
		names := promMetricNames(e)
		if len(names) == 0 {
			t.Errorf("%s: %q selects no metric", where, e)
		}
		for _, n := range names {
			if !known.has(n) && !slices.Contains(allowed, n) {
				t.Errorf("%s: %q uses %s, which the gateway does not export", where, e, n)
			}
		}
	}
}

func TestPromMetricNames(t *testing.T) {
	for _, tt := range []struct{ expr, want string }{
		{`sum by (route, le) (rate(gateway_request_duration_seconds_bucket{route=~"$route"}[$__rate_interval]))`, "gateway_request_duration_seconds_bucket"},
		{`histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))`, "x_bucket"},
		{`a / on(instance) group_left(version) b > 1e3 and c offset 30s`, "a b c"},
		{`count(gateway_breaker_state{route="by(x)"} == 2) or vector(0)`, "gateway_breaker_state"},
		{`max_over_time((timestamp(f offset 30s) and f > f offset 30s)[1h:30s]) > ignoring(result) g`, "f f f g"},
		{`time() - gateway_config_last_reload_success_timestamp_seconds`, "gateway_config_last_reload_success_timestamp_seconds"},
		{`{__name__="x"}`, ""},
	} {
		if got := strings.Join(promMetricNames(tt.expr), " "); got != tt.want {
			t.Errorf("promMetricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// dashboardExprs returns every PromQL expression of the dashboard (panel
// targets, annotations) and the metric selectors of its query variables.
func dashboardExprs(t *testing.T, dash any) []string {
	t.Helper()
	var exprs []string
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*[A-Za-z_]+\)$`)
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(k, x)
			}
		case []any:
			for _, x := range v {
				walk(key, x)
			}
		case string:
			switch key {
			case "expr":
				exprs = append(exprs, v)
			case "query", "definition":
				if m := labelValues.FindStringSubmatch(v); m != nil {
					exprs = append(exprs, m[1])
				}
			}
		}
	}
	walk("", dash)
	return exprs
}

// TestDashboardAndAlertsUseExportedMetrics ties the PromQL of the Grafana
// dashboard and of the alerting rules to the metrics the gateway exports.
func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	known := exportedMetrics(t)

	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	exprs := dashboardExprs(t, dash)
	if len(exprs) < 20 {
		t.Fatalf("%s: only %d expressions found", dashboardFile, len(exprs))
	}
	checkExprs(t, dashboardFile, exprs, known)

	// The check must catch a misspelled metric.
	var broken map[string]any
	if err := json.Unmarshal(bytes.Replace(raw, []byte("rate(gateway_requests_total{"), []byte("rate(gateway_request_total{"), 1), &broken); err != nil {
		t.Fatal(err)
	}
	caught := false
	for _, e := range dashboardExprs(t, broken) {
		for _, n := range promMetricNames(e) {
			caught = caught || !known.has(n)
		}
	}
	if !caught {
		t.Error("a misspelled metric in the dashboard went unnoticed")
	}

	rules := loadAlerts(t)
	var alertExprs []string
	for _, r := range rules {
		alertExprs = append(alertExprs, r.Expr)
	}
	// up is the scrape's own series, made by Prometheus.
	checkExprs(t, alertsFile, alertExprs, known, "up")

	// With promtool at hand, the dashboard's PromQL must also parse.
	if promtool, err := exec.LookPath("promtool"); err == nil {
		checkDashboardSyntax(t, promtool, exprs)
	} else {
		t.Log("promtool not installed: the dashboard's PromQL syntax is not checked")
	}
}

// checkDashboardSyntax has promtool parse every dashboard expression, as
// recording rules, with the Grafana variables filled in.
func checkDashboardSyntax(t *testing.T, promtool string, exprs []string) {
	t.Helper()
	fill := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*", "$route", ".*")
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rs []rule
	for i, e := range exprs {
		rs = append(rs, rule{Record: "dashboard:expr" + itoa(i), Expr: fill.Replace(e)})
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rs}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool rejects the dashboard's PromQL: %v\n%s", err, out)
	}
}

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadAlerts(t *testing.T) []alertRule {
	t.Helper()
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string      `yaml:"name"`
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	var rules []alertRule
	for _, g := range file.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// TestAlertRulesAreComplete: each alert waits (for), says how bad it is
// and what happened, and the obvious failures are covered.
func TestAlertRulesAreComplete(t *testing.T) {
	rules := loadAlerts(t)
	names := map[string]bool{}
	for _, r := range rules {
		if r.Alert == "" {
			t.Errorf("a rule without a name: %q", r.Expr)
			continue
		}
		names[r.Alert] = true
		if r.For == "" {
			t.Errorf("%s: no for", r.Alert)
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
			t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, s)
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: needs a summary and a description", r.Alert)
		}
	}
	for _, want := range []string{"GatewayCircuitBreakerOpen", "GatewayDiscoveryStale", "GatewayConfigReloadFailing",
		"GatewayBrokerDown", "GatewayHighErrorRatio"} {
		if !names[want] {
			t.Errorf("no %s alert", want)
		}
	}
}

// TestDashboardShape checks what Grafana needs to import the dashboard and
// what makes it usable: its variables, unique panel ids, and every query on
// the chosen data source.
func TestDashboardShape(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Templating    struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Definition string `json:"definition"`
				Query      any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			GridPos struct{ X, Y, W, H int } `json:"gridPos"`
			Targets []struct {
				Expr       string `json:"expr"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Error("the dashboard needs a uid and a title")
	}
	if dash.SchemaVersion < 39 {
		t.Errorf("schemaVersion %d: want that of a current Grafana (39 or later)", dash.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = v.Type
		if v.Name == "route" && !strings.HasPrefix(v.Definition, "label_values(") {
			t.Errorf("route variable: %q, want label_values(...)", v.Definition)
		}
	}
	if vars["datasource"] != "datasource" || vars["route"] != "query" {
		t.Errorf("variables %v: want a datasource variable and a route query variable", vars)
	}
	ids := map[int]string{}
	for _, p := range dash.Panels {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v is outside the 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %q and %d queries, want ${datasource} and some", p.Title, p.Datasource.UID, len(p.Targets))
		}
		for _, q := range p.Targets {
			if q.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: a query on data source %q", p.Title, q.Datasource.UID)
			}
		}
	}
}
