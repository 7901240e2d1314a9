package gateway

import (
	"errors"
	"strconv"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/router"
)

// RouteConflicts is a config.Check: it reports each route that the router
// cannot tell apart from an earlier one, so that config.Load lists route
// conflicts together with every other problem of a configuration instead
// of after them. Routes the router refuses on their own are left to
// validation.
func RouteConflicts(cfg *config.Config) []*config.FieldError {
	_, errs := routeConflicts(cfg)
	return errs
}

// RouteConflicts is the package's RouteConflicts for the configurations
// g is about to apply (a reloader's Checks): the table it compiles to
// find conflicts is kept, and a build of the very same routes next (the
// configuration's Routes, not a copy) takes it instead of compiling them
// again. Safe for concurrent use.
func (g *Gateway) RouteConflicts(cfg *config.Config) []*config.FieldError {
	table, errs := routeConflicts(cfg)
	if table != nil {
		g.deps.checked.Store(&checkedTable{routes: cfg.Routes, table: table})
	}
	return errs
}

// checkedTable is a route table compiled from routes.
type checkedTable struct {
	routes []config.Route
	table  *router.Table
}

// tableFor returns the table that Gateway.RouteConflicts compiled from
// routes themselves (the same elements), once; nil when there is none.
func (d *deps) tableFor(routes []config.Route) *router.Table {
	c := d.checked.Swap(nil)
	if c == nil || len(c.routes) != len(routes) || len(routes) == 0 || &c.routes[0] != &routes[0] {
		return nil
	}
	return c.table
}

// routeConflicts compiles cfg's routes: the table, or the conflicts.
func routeConflicts(cfg *config.Config) (*router.Table, []*config.FieldError) {
	table, err := router.Compile(routeRules(cfg))
	if err == nil {
		return table, nil
	}
	var out []*config.FieldError
	for _, e := range unjoin(err) {
		var conflict *router.ConflictError
		if !errors.As(e, &conflict) {
			continue
		}
		out = append(out, &config.FieldError{
			Field: "routes[" + strconv.Itoa(conflict.B) + "]",
			Msg:   "conflicts with " + cfg.RouteRef(conflict.A, conflict.B) + ": " + conflict.Reason,
		})
	}
	return nil, out
}

// routeRules is what the router sees of cfg's routes; rule IDs are the
// routes' indexes.
func routeRules(cfg *config.Config) []router.Rule {
	rules := make([]router.Rule, len(cfg.Routes))
	for i := range cfg.Routes {
		m := &cfg.Routes[i].Match
		rules[i] = router.Rule{ID: i, Host: m.Host, Methods: m.Methods, Path: m.Path, PathPrefix: m.PathPrefix}
	}
	return rules
}
