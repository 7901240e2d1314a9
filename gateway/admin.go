package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AdminHandler serves the admin endpoints:
//
//	GET /metrics   Prometheus text format
//	GET /healthz   200 while the process runs
//	GET /readyz    200 once a configuration serves, 503 while shutting down
//	GET /-/config  the configuration serving now, defaults applied, secrets redacted
//	GET /-/routes  the routes serving now, with their targets' state
//	GET /-/config/digest  hashes of the serving configuration's parts
//	POST /-/reload  load the configuration file again and apply it; with
//	               ?dry_run=true only say what would change
//	GET /debug/pprof/...  Go's profiler (CPU, heap, goroutines, trace)
//
// It is plain net/http: the admin side is not on the request path.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !g.Ready() {
			writeText(w, http.StatusServiceUnavailable, "not ready\n")
			return
		}
		writeText(w, http.StatusOK, "ready\n")
	})
	mux.HandleFunc("GET /-/config", g.serveConfig)
	mux.HandleFunc("GET /-/routes", g.serveRoutes)
	mux.HandleFunc("GET /-/config/digest", g.serveDigest)
	mux.HandleFunc("POST /-/reload", g.serveReload)
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// serveReload answers with the ReloadResult as JSON: 200 when the
// configuration was applied (or, in a dry run, would be), 400 with the
// list of errors when it was refused.
func (g *Gateway) serveReload(w http.ResponseWriter, req *http.Request) {
	r := g.reloader.Load()
	if r == nil {
		writeText(w, http.StatusNotFound, errNoReloader.Error()+"\n")
		return
	}
	dry, _ := strconv.ParseBool(req.URL.Query().Get("dry_run"))
	trigger := "admin"
	if dry {
		trigger = "admin dry run"
	}
	res, err := r.Reload(trigger, dry)
	status := http.StatusOK
	if err != nil {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, res)
}

func (g *Gateway) serveDigest(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, DigestOf(g.current.Load().cfg))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (g *Gateway) serveConfig(w http.ResponseWriter, _ *http.Request) {
	out, err := g.current.Load().cfg.Redacted()
	if err != nil {
		writeText(w, http.StatusInternalServerError, err.Error()+"\n")
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(out)
}

// routeView is one route as /-/routes shows it.
type routeView struct {
	Name       string       `json:"name"`
	Host       string       `json:"host,omitempty"`
	Path       string       `json:"path,omitempty"`
	PathPrefix string       `json:"path_prefix,omitempty"`
	Methods    []string     `json:"methods,omitempty"`
	Backend    string       `json:"backend"`
	Balance    string       `json:"balance,omitempty"`
	Service    string       `json:"service,omitempty"`
	Discovery  string       `json:"discovery,omitempty"`
	Targets    []targetView `json:"targets,omitempty"`
}

type targetView struct {
	Address  string `json:"address"`
	Weight   int    `json:"weight"`
	Healthy  bool   `json:"healthy"`
	InFlight int64  `json:"in_flight"`
}

func (g *Gateway) serveRoutes(w http.ResponseWriter, _ *http.Request) {
	snap := g.current.Load()
	now := time.Now().UnixNano()
	views := make([]routeView, 0, len(snap.routes))
	for _, rt := range snap.routes {
		v := routeView{
			Name:       rt.name,
			Host:       rt.cfg.Match.Host,
			Path:       rt.cfg.Match.Path,
			PathPrefix: rt.cfg.Match.PathPrefix,
			Methods:    rt.cfg.Match.Methods,
		}
		switch {
		case rt.respond != nil:
			v.Backend = "respond"
		case rt.upstream != nil:
			v.Backend = "upstream"
			v.Balance = rt.upstream.settings.Balance
			v.Service = rt.upstream.settings.Service
			v.Discovery = rt.upstream.settings.Discovery
			for _, t := range rt.upstream.targets() {
				v.Targets = append(v.Targets, targetView{
					Address:  t.inst.Addr,
					Weight:   t.inst.Weight,
					Healthy:  t.inst.Available(now),
					InFlight: t.inst.InFlight(),
				})
			}
		}
		views = append(views, v)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(views)
}
