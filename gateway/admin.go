package gateway

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
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
// Every endpoint but the first three is guarded (see guarded); reload and
// pprof can be turned off (admin_endpoints). The serving configuration's
// settings apply, so a reload changes them at once. It is plain net/http:
// the admin side is not on the request path.
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
	mux.HandleFunc("GET /-/config", g.guarded(g.serveConfig))
	mux.HandleFunc("GET /-/routes", g.guarded(g.serveRoutes))
	mux.HandleFunc("GET /-/config/digest", g.guarded(g.serveDigest))
	mux.HandleFunc("POST /-/reload", g.guarded(g.serveReload))
	mux.HandleFunc("GET /debug/pprof/", g.guarded(g.pprofOn(pprof.Index)))
	mux.HandleFunc("GET /debug/pprof/profile", g.guarded(g.pprofOn(pprof.Profile)))
	mux.HandleFunc("GET /debug/pprof/trace", g.guarded(g.pprofOn(pprof.Trace)))
	return mux
}

// Bounds of the admin listener. It serves operators and scrapers, not
// clients: a few connections, each closed soon when idle, so that it never
// holds the file descriptors the proxy listener needs.
const (
	adminMaxConns          = 32
	adminReadHeaderTimeout = 5 * time.Second
	adminReadTimeout       = 10 * time.Second
	// Above pprof's default 30s profile, which it must fit.
	adminWriteTimeout = 60 * time.Second
	adminIdleTimeout  = 10 * time.Second
)

// adminLimits are the admin listener's bounds (tests shorten them).
type adminLimits struct {
	maxConns                      int
	readHeader, read, write, idle time.Duration
}

var defaultAdminLimits = adminLimits{
	maxConns: adminMaxConns, readHeader: adminReadHeaderTimeout,
	read: adminReadTimeout, write: adminWriteTimeout, idle: adminIdleTimeout,
}

// ServeAdmin serves AdminHandler on ln until Shutdown has finished
// draining (so that /readyz answers 503 during the shutdown delay), with
// at most 32 connections at once (more wait in the listen backlog) and
// timeouts: 5s for a request head, 10s for a whole request, 60s for an
// answer, 10s idle. It returns nil after Shutdown.
func (g *Gateway) ServeAdmin(ln net.Listener) error {
	lim := g.adminLimits
	srv := &http.Server{
		Handler:           g.AdminHandler(),
		ReadHeaderTimeout: lim.readHeader,
		ReadTimeout:       lim.read,
		WriteTimeout:      lim.write,
		IdleTimeout:       lim.idle,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	g.lnMu.Lock()
	if g.adminClosed {
		g.lnMu.Unlock()
		_ = ln.Close()
		return nil
	}
	g.admins = append(g.admins, srv)
	g.lnMu.Unlock()
	err := srv.Serve(newLimitListener(ln, lim.maxConns))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// closeAdmin closes the admin listeners and their connections.
func (g *Gateway) closeAdmin() {
	g.lnMu.Lock()
	g.adminClosed = true
	srvs := g.admins
	g.admins = nil
	g.lnMu.Unlock()
	for _, s := range srvs {
		_ = s.Close()
	}
}

// pprofOn serves h while admin_endpoints.pprof is on, 404 otherwise.
func (g *Gateway) pprofOn(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if !g.Config().AdminEndpoints.Pprof {
			writeText(w, http.StatusNotFound, "gateway: admin: /debug/pprof is off (admin_endpoints.pprof)\n")
			return
		}
		h(w, req)
	}
}

// serveReload answers with the ReloadResult as JSON: 200 when the
// configuration was applied (or, in a dry run, would be), 400 with the
// list of errors when it was refused.
func (g *Gateway) serveReload(w http.ResponseWriter, req *http.Request) {
	if !g.Config().AdminEndpoints.Reload {
		writeText(w, http.StatusNotFound, "gateway: admin: /-/reload is off (admin_endpoints.reload); reload with SIGHUP or by changing the file\n")
		return
	}
	reload := g.onReload.Load()
	if reload == nil {
		writeText(w, http.StatusNotFound, errNoReloader.Error()+"\n")
		return
	}
	dry, _ := strconv.ParseBool(req.URL.Query().Get("dry_run"))
	trigger := "admin"
	if dry {
		trigger = "admin dry run"
	}
	res, err := (*reload)(trigger, dry)
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

// serveConfig shows the configuration in effect: a setting that needs a
// restart keeps its running value, and a comment on the first line names
// those whose new value waits for one.
func (g *Gateway) serveConfig(w http.ResponseWriter, _ *http.Request) {
	snap := g.current.Load()
	out, err := snap.cfg.Redacted()
	if err != nil {
		writeText(w, http.StatusInternalServerError, err.Error()+"\n")
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write([]byte(g.sourceComment()))
	if len(snap.pending) > 0 {
		_, _ = w.Write([]byte("# pending a restart (the file sets other values; shown are those in effect): " +
			strings.Join(snap.pending, ", ") + "\n"))
	}
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
		switch b := rt.backend.(type) {
		case *respondStep:
			v.Backend = "respond"
		case *proxyStep:
			v.Backend = "upstream"
			v.Balance = b.pool.settings.Balance
			v.Service = b.pool.settings.Service
			v.Discovery = b.pool.settings.Discovery
			for _, t := range b.pool.targets() {
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
