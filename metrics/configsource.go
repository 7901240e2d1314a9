package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ConfigSourceStatus is what the metrics export of the registry the
// configuration is followed in (config_source), and what the gateway's
// readiness and /-/config say about it.
type ConfigSourceStatus struct {
	// Source names the registry: "etcd".
	Source string
	// Loaded is true once a version serves, from the registry or from
	// the copy on disk.
	Loaded bool
	// Version is the version serving; 0 before the first.
	Version int64
	// FromDisk is true while the version serving was read from the copy
	// on disk rather than from the registry.
	FromDisk bool
	// LastApply is when a version was last applied; zero before the first.
	LastApply time.Time
	// Refused is the version last refused while it is the one published
	// (0 when the published version serves, -1 when what names the
	// published version holds none), RefusedError why, in one line.
	Refused      int64
	RefusedError string
	// RefusedTotal counts the versions refused since the start.
	RefusedTotal uint64
	// Reachable is true while the registry answers.
	Reachable bool
}

// WatchConfigSource makes the config source metrics report what f
// returns, read at every scrape. Without it they have no series.
func (m *Metrics) WatchConfigSource(f func() ConfigSourceStatus) { m.source.Store(&f) }

var (
	sourceVersionDesc = prometheus.NewDesc("gateway_config_source_version",
		"The version of the configuration serving, as published to the config source (0 before the first).", []string{"source"}, nil)
	sourceLastApplyDesc = prometheus.NewDesc("gateway_config_source_last_apply_timestamp_seconds",
		"Unix time a version from the config source (or its copy on disk) was last applied.", []string{"source"}, nil)
	sourceRefusedDesc = prometheus.NewDesc("gateway_config_source_refused_total",
		"Versions published to the config source that were refused (invalid, incomplete or too large).", []string{"source"}, nil)
	sourceRefusedVersionDesc = prometheus.NewDesc("gateway_config_source_refused_version",
		"The published version that is refused while an older one keeps serving; 0 when the published version serves, -1 when the pointer to it names none.", []string{"source"}, nil)
	sourceUpDesc = prometheus.NewDesc("gateway_config_source_up",
		"Whether the config source answers (1) or not (0).", []string{"source"}, nil)
	sourceFromDiskDesc = prometheus.NewDesc("gateway_config_source_from_disk",
		"Whether the version serving was read from the copy on disk (1) rather than from the config source (0).", []string{"source"}, nil)
)

// configSourceCollector exports the state of the config source.
type configSourceCollector struct{ m *Metrics }

func (c *configSourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sourceVersionDesc, sourceLastApplyDesc, sourceRefusedDesc, sourceRefusedVersionDesc, sourceUpDesc, sourceFromDiskDesc} {
		ch <- d
	}
}

func (c *configSourceCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.source.Load()
	if f == nil {
		return
	}
	st := (*f)()
	var last float64
	if !st.LastApply.IsZero() {
		last = float64(st.LastApply.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(sourceVersionDesc, prometheus.GaugeValue, float64(st.Version), st.Source)
	ch <- prometheus.MustNewConstMetric(sourceLastApplyDesc, prometheus.GaugeValue, last, st.Source)
	ch <- prometheus.MustNewConstMetric(sourceRefusedDesc, prometheus.CounterValue, float64(st.RefusedTotal), st.Source)
	ch <- prometheus.MustNewConstMetric(sourceRefusedVersionDesc, prometheus.GaugeValue, float64(st.Refused), st.Source)
	ch <- prometheus.MustNewConstMetric(sourceUpDesc, prometheus.GaugeValue, boolValue(st.Reachable), st.Source)
	ch <- prometheus.MustNewConstMetric(sourceFromDiskDesc, prometheus.GaugeValue, boolValue(st.FromDisk), st.Source)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
