package gateway

import (
	"errors"
	"strings"

	"github.com/fastgate/gateway/config"
	"github.com/fastgate/gateway/reloader"
)

// ReloadFunc loads the configuration file again and applies it, or, with
// dryRun, says what applying it would change; trigger names the cause in
// the log. A reloader.Reloader's Reload is one.
type ReloadFunc func(trigger string, dryRun bool) (ReloadResult, error)

// SetReloadFunc makes POST /-/reload call reload. Until it is set (a
// gateway not started from a file), and after it is set to nil,
// /-/reload answers 404. Safe for concurrent use.
func (g *Gateway) SetReloadFunc(reload ReloadFunc) {
	if reload == nil {
		g.onReload.Store(nil)
		return
	}
	g.onReload.Store(&reload)
}

// ReloadTarget is the gateway as the target of a reloader.Reloader: it
// applies the configurations the reloader loads (a file change that finds
// the serving configuration changes nothing), previews them in dry runs,
// counts those refused, and logs each reload with its trigger.
func (g *Gateway) ReloadTarget() reloader.Target[ReloadResult] {
	return reloadTarget{g}
}

// reloadTarget is ReloadTarget's answer.
type reloadTarget struct{ g *Gateway }

var _ reloader.Target[ReloadResult] = reloadTarget{}

// Apply applies cfg, unless a file change started the reload and cfg is
// the configuration that serves already.
func (t reloadTarget) Apply(cfg *config.Config, req reloader.Request) (ReloadResult, error) {
	g := t.g
	if req.FileChange {
		if h := cfg.Hash(); h == g.current.Load().hash {
			g.unchanged(h)
			g.log.Info("gateway: configuration reloaded, nothing changed", "trigger", req.Trigger, "hash", h)
			return ReloadResult{Applied: false, Hash: h}, nil
		}
	}
	res, err := g.Apply(cfg)
	if err != nil {
		g.log.Error("gateway: configuration refused, the old one keeps serving",
			"trigger", req.Trigger, "errors", strings.Join(res.Errors, "; "))
		return res, err
	}
	attrs := []any{"trigger", req.Trigger, "hash", res.Hash,
		"added", len(res.Added), "removed", len(res.Removed), "changed", len(res.Changed),
		"unchanged", res.Unchanged, "routes", res.Summary()}
	if len(res.RestartNeeded) > 0 {
		attrs = append(attrs, "restart_needed", strings.Join(res.RestartNeeded, ","))
	}
	g.log.Info("gateway: configuration reloaded", attrs...)
	if len(res.RestartNeeded) > 0 {
		g.log.Warn("gateway: settings changed that take effect only after a restart",
			"settings", strings.Join(res.RestartNeeded, ","))
	}
	return res, nil
}

// Preview is Gateway.Preview.
func (t reloadTarget) Preview(cfg *config.Config, _ reloader.Request) (ReloadResult, error) {
	return t.g.Preview(cfg)
}

// Refuse reports a configuration that did not load; one that was to be
// applied is counted and logged.
func (t reloadTarget) Refuse(err error, req reloader.Request) ReloadResult {
	res := ReloadResult{DryRun: req.DryRun, Errors: errorLines(err)}
	if !req.DryRun {
		t.g.Rejected()
		t.g.log.Error("gateway: configuration refused, the old one keeps serving",
			"trigger", req.Trigger, "errors", strings.Join(res.Errors, "; "))
	}
	return res
}

// errNoReloader answers /-/reload when the gateway was not started from
// a file.
var errNoReloader = errors.New("gateway: no configuration file to reload")
