package gateway

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/fastgate/gateway/config"
)

// DefaultDebounce is how long the Reloader waits after the last change of
// a watched file before it loads the configuration: editors and
// Kubernetes' ConfigMap updates touch a file several times in a row.
const DefaultDebounce = 200 * time.Millisecond

// Reloader loads the configuration file again and applies it: when a
// watched file changes, and when asked (SIGHUP, POST /-/reload). A file
// that does not load, or a configuration that does not compile, changes
// nothing: the old one keeps serving.
//
// An included file that the last good configuration was read from and that
// has vanished fails a reload that a file change started, so that a file
// deleted by mistake (or half-way through a deploy) does not take its
// routes out of service. Its removal takes effect through an explicit
// reload, or when the directory it was in was replaced as a whole (a
// Kubernetes ConfigMap volume swaps its "..data" symlink). Safe for
// concurrent use.
type Reloader struct {
	path     string
	gw       *Gateway
	log      *slog.Logger
	debounce time.Duration

	mu      sync.Mutex // serializes loads
	watcher *fsnotify.Watcher
	dirs    map[string]bool
	// files and globs are what the last good configuration was read from;
	// an event on anything else is ignored.
	files map[string]bool
	globs []string
	// included lists the included files of the last good configuration;
	// incDirs maps their directories to what they were then (dirState).
	included []string
	incDirs  map[string]string
}

// NewReloader watches the configuration at path (and the files it
// includes) for gw. Run must be called to follow file changes.
func NewReloader(path string, gw *Gateway, log *slog.Logger, debounce time.Duration) (*Reloader, error) {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		w.Close()
		return nil, err
	}
	r := &Reloader{path: abs, gw: gw, log: log, debounce: debounce, watcher: w, dirs: map[string]bool{}}
	r.follow(gw.current.Load().cfg)
	gw.reloader.Store(r)
	return r, nil
}

// Run follows file changes until ctx ends, then stops watching.
func (r *Reloader) Run(ctx context.Context) {
	defer r.watcher.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-r.watcher.Events:
			if !ok {
				return
			}
			if r.relevant(ev.Name) {
				timer.Reset(r.debounce)
			}
		case err, ok := <-r.watcher.Errors:
			if !ok {
				return
			}
			r.log.Warn("gateway: watching the configuration", "error", err.Error())
		case <-timer.C:
			_, _ = r.reload("file change", false, true)
		}
	}
}

// Reload loads the configuration and applies it, or, with dryRun, says
// what applying it would change. trigger names the cause in the log.
func (r *Reloader) Reload(trigger string, dryRun bool) (ReloadResult, error) {
	return r.reload(trigger, dryRun, false)
}

// reload loads and applies the configuration. fromFile is true for a
// reload that a file change started: one that finds nothing changed does
// nothing, and one whose included files vanished is refused.
func (r *Reloader) reload(trigger string, dryRun, fromFile bool) (ReloadResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := config.Load(r.path, RouteConflicts)
	if err == nil && fromFile {
		err = r.vanished(cfg)
	}
	if err != nil {
		res := ReloadResult{DryRun: dryRun, Errors: errorLines(err)}
		if !dryRun {
			r.gw.Rejected()
			r.log.Error("gateway: configuration refused, the old one keeps serving",
				"trigger", trigger, "errors", strings.Join(res.Errors, "; "))
		}
		return res, err
	}
	if dryRun {
		return r.gw.Preview(cfg)
	}
	if fromFile {
		if h := cfg.Hash(); h == r.gw.current.Load().hash {
			r.follow(cfg)
			r.gw.unchanged(h)
			r.log.Info("gateway: configuration reloaded, nothing changed", "trigger", trigger, "hash", h)
			return ReloadResult{Applied: false, Hash: h}, nil
		}
	}
	res, err := r.gw.Apply(cfg)
	if err != nil {
		r.log.Error("gateway: configuration refused, the old one keeps serving",
			"trigger", trigger, "errors", strings.Join(res.Errors, "; "))
		return res, err
	}
	r.follow(cfg)
	attrs := []any{"trigger", trigger, "hash", res.Hash,
		"added", len(res.Added), "removed", len(res.Removed), "changed", len(res.Changed),
		"unchanged", res.Unchanged, "routes", res.Summary()}
	if len(res.RestartNeeded) > 0 {
		attrs = append(attrs, "restart_needed", strings.Join(res.RestartNeeded, ","))
	}
	r.log.Info("gateway: configuration reloaded", attrs...)
	if len(res.RestartNeeded) > 0 {
		r.log.Warn("gateway: settings changed that take effect only after a restart",
			"settings", strings.Join(res.RestartNeeded, ","))
	}
	return res, nil
}

// vanished reports the included files of the last good configuration that
// cfg no longer reads because they are gone, unless their directory was
// replaced as a whole since.
func (r *Reloader) vanished(cfg *config.Config) error {
	now := make(map[string]bool)
	for _, f := range cfg.Files() {
		now[f] = true
	}
	var errs []error
	for _, f := range r.included {
		if now[f] {
			continue
		}
		if _, err := os.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
			continue // still there: the include list changed on purpose
		}
		dir := filepath.Dir(f)
		if then, ok := r.incDirs[dir]; ok {
			if cur := dirState(dir); cur != "" && cur != then {
				continue // the directory was swapped as a whole
			}
		}
		errs = append(errs, errors.New("gateway: "+f+
			": an included file of the serving configuration is gone; its routes keep serving until a reload (SIGHUP or POST /-/reload) confirms the removal"))
	}
	return errors.Join(errs...)
}

// dirState identifies what a directory is: where it resolves to and where
// its "..data" symlink (a Kubernetes ConfigMap volume's) points. Either
// changes when the directory is replaced as a whole. It is "" for a
// directory that is gone.
func dirState(dir string) string {
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return ""
	}
	data, _ := os.Readlink(filepath.Join(dir, "..data"))
	return resolved + "\x00" + data
}

// follow watches the directories of cfg's files and include patterns.
// Directories, not files: editors save by writing a new file and renaming
// it over the old one, and Kubernetes swaps a symlink, and a watch on the
// old file would see neither.
func (r *Reloader) follow(cfg *config.Config) {
	r.files = map[string]bool{r.path: true}
	r.globs = nil
	r.included = nil
	r.incDirs = map[string]string{}
	want := map[string]bool{filepath.Dir(r.path): true}
	for i, f := range cfg.Files() {
		abs, err := filepath.Abs(f)
		if err != nil {
			continue
		}
		r.files[abs] = true
		want[filepath.Dir(abs)] = true
		if i > 0 {
			r.included = append(r.included, f)
			r.incDirs[filepath.Dir(f)] = dirState(filepath.Dir(f))
		}
	}
	for _, g := range cfg.Includes() {
		r.globs = append(r.globs, g)
		want[filepath.Dir(g)] = true
	}
	for d := range want {
		if !r.dirs[d] {
			if err := r.watcher.Add(d); err != nil {
				r.log.Warn("gateway: cannot watch a configuration directory", "dir", d, "error", err.Error())
				continue
			}
			r.dirs[d] = true
		}
	}
	for d := range r.dirs {
		if !want[d] {
			_ = r.watcher.Remove(d)
			delete(r.dirs, d)
		}
	}
}

// relevant reports whether a change of name may change the configuration.
func (r *Reloader) relevant(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.files[name] {
		return true
	}
	for _, g := range r.globs {
		if ok, _ := filepath.Match(g, name); ok {
			return true
		}
	}
	// Kubernetes updates a ConfigMap volume by swapping the ..data symlink
	// that the visible file names point through.
	return strings.HasPrefix(filepath.Base(name), "..")
}

// errNoReloader answers /-/reload when the gateway was not started from
// a file.
var errNoReloader = errors.New("gateway: no configuration file to reload")
