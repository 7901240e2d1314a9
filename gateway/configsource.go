package gateway

import (
	"strconv"
	"strings"

	"github.com/fastgate/gateway/metrics"
)

// SetConfigSource tells the gateway that its configuration is followed in
// a registry (config_source) whose state status returns: the gateway is
// not ready (/readyz 503) until a first version serves, the config source
// metrics report it, and /-/config names the version serving and the one
// refused. Call it before serving. Safe for concurrent use.
func (g *Gateway) SetConfigSource(status func() metrics.ConfigSourceStatus) {
	if status == nil {
		g.source.Store(nil)
		return
	}
	g.source.Store(&status)
	g.metrics.WatchConfigSource(status)
}

// sourceLoaded reports whether a version from the config source serves
// (true when the configuration does not come from one).
func (g *Gateway) sourceLoaded() bool {
	f := g.source.Load()
	return f == nil || (*f)().Loaded
}

// sourceComment is the first lines of /-/config when the configuration
// comes from a config source: the version serving and the one refused.
func (g *Gateway) sourceComment() string {
	f := g.source.Load()
	if f == nil {
		return ""
	}
	st := (*f)()
	var b strings.Builder
	b.WriteString("# config_source " + st.Source + ": ")
	switch {
	case !st.Loaded:
		b.WriteString("no version loaded yet")
	case st.FromDisk:
		b.WriteString("serving version " + strconv.FormatInt(st.Version, 10) + " from the copy on disk")
	default:
		b.WriteString("serving version " + strconv.FormatInt(st.Version, 10))
	}
	if !st.Reachable {
		b.WriteString("; the source does not answer")
	}
	b.WriteString("\n")
	if st.Refused != 0 {
		what := "version " + strconv.FormatInt(st.Refused, 10)
		if st.Refused < 0 {
			what = "the pointer to the current version"
		}
		b.WriteString("# config_source " + st.Source + ": " + what +
			" refused: " + strings.ReplaceAll(st.RefusedError, "\n", "; ") + "\n")
	}
	return b.String()
}
