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
	_, err := router.Compile(routeRules(cfg))
	if err == nil {
		return nil
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
	return out
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
